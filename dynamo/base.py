"""What every table manager shares: the client, the table's name, error translation,
one page of a Query, batches and transactions within DynamoDB's limits, and
optimistic-locking updates.

    class ScansTable(Table):
        definition = SCANS

A manager subclasses ``Table``, knows one table's keys and item shape, and returns
frozen dataclasses. This module holds no knowledge of HTTP.

DynamoDB's size limits are enforced here and nowhere else: ``batch_write`` and
``batch_get`` take any number of requests and send them in batches DynamoDB accepts,
and every transaction goes through ``transact``.
"""

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from botocore.exceptions import BotoCoreError, ClientError

from dynamo.client import get_client
from dynamo.codec import Item, from_number, to_attribute
from dynamo.contention import Contention
from dynamo.cursors import decode_cursor, encode_cursor
from dynamo.errors import (
    ConditionFailed,
    DynamoError,
    InvalidCursor,
    ItemNotFound,
    PreconditionFailed,
    Unavailable,
    VersionConflict,
    error_code,
    translate,
)
from dynamo.tables import TableDefinition

if TYPE_CHECKING:  # type stubs are a development tool, not a runtime need
    from mypy_boto3_dynamodb import DynamoDBClient

T = TypeVar("T")

BATCH_WRITE_ATTEMPTS = 8
BATCH_GET_ATTEMPTS = 8
# DynamoDB refuses a BatchWriteItem of more than 25 put/delete requests, a BatchGetItem
# of more than 100 keys and a TransactWriteItems of more than 100 actions. A BatchGetItem
# answers at most 16 MB and returns the rest as UnprocessedKeys, which are read again.
BATCH_WRITE_MAX_ITEMS = 25
BATCH_GET_MAX_KEYS = 100
TRANSACTION_MAX_ACTIONS = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, with the opaque cursor of the next page (None at the end)."""

    items: list[T]
    next_cursor: str | None


class Table:
    definition: ClassVar[TableDefinition]

    @property
    def client(self) -> "DynamoDBClient":
        return get_client()

    @property
    def name(self) -> str:
        return self.definition.name

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        """Run one DynamoDB operation on this table, with our errors for known failures."""
        return self.call_client(operation, TableName=self.name, **request)

    def call_client(self, operation: str, **request: Any) -> dict[str, Any]:
        """A client call that names its tables itself (transactions, batches)."""
        try:
            return cast(dict[str, Any], getattr(self.client, operation)(**request))
        except (ClientError, BotoCoreError) as err:
            translated = translate(err)
            if translated is err:
                raise
            raise translated from err

    def transact(self, actions: list[dict[str, Any]]) -> None:
        """One TransactWriteItems call (no retry); the way every transaction is sent.

        A change that needs more than 100 actions cannot be one transaction: it is a
        design error to split up or to run as a job, not a request to send in parts.
        """
        if not actions or len(actions) > TRANSACTION_MAX_ACTIONS:
            raise ValueError(
                f"A transaction holds 1 to {TRANSACTION_MAX_ACTIONS} actions, not "
                f"{len(actions)}; split the change into steps that are each safe alone."
            )
        # botocore gives each call a ClientRequestToken, which makes its own retries of
        # the call (after a timeout, say) idempotent: a transaction that did commit is
        # not applied a second time, nor refused by its own conditions.
        self.call_client("transact_write_items", TransactItems=actions)

    def transact_write(
        self,
        request: list[dict[str, Any]],
        *,
        refused: type[DynamoError],
        refused_at: Mapping[int, type[DynamoError]] | None = None,
    ) -> None:
        """TransactWriteItems; ``refused`` is raised when one of its conditions fails,
        or ``refused_at[i]`` when the condition of the action at position ``i`` does.

        Concurrent transactions on one item cancel each other (TransactionConflict);
        retrying with jitter (``dynamo.contention``) lets one of them win each round and
        the rest see its write.
        """
        retries = Contention()
        while True:
            try:
                self.transact(request)
                return
            except ClientError as err:
                if error_code(err) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in err.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    failed_at = reasons.index("ConditionalCheckFailed")
                    raise (refused_at or {}).get(failed_at, refused)(cause=err) from err
                if "TransactionConflict" not in reasons or not retries.wait():
                    raise Unavailable(cause=err) from err

    def get_item(self, key: Item, *, consistent: bool = False) -> Item | None:
        return self.call("get_item", Key=key, ConsistentRead=consistent).get("Item")

    def query_partition(
        self,
        user_id: str,
        *,
        parse: Callable[[Item], T],
        limit: int,
        cursor: str | None,
        scope: str,
        newest_first: bool = True,
        index: str | None = None,
        key_condition: str = "user_id = :user_id",
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        consistent: bool = False,
        projection: str | None = None,
    ) -> Page[T]:
        """One Query in the caller's partition; the cursor is bound to user and scope.

        ``projection`` (a ProjectionExpression) returns only the attributes it names:
        fewer bytes to send and decode, the same read units (DynamoDB counts the whole
        items it reads)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": {
                ":user_id": {"S": user_id},
                **{name: to_attribute(value) for name, value in (values or {}).items()},
            },
            "ScanIndexForward": not newest_first,
            "Limit": limit,
        }
        if consistent:
            request["ConsistentRead"] = True
        if projection:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if index:
            request["IndexName"] = index
        start_key = decode_cursor(cursor, user_id=user_id, scope=scope)
        if start_key:
            request["ExclusiveStartKey"] = start_key
        try:
            response = self.call("query", **request)
        except ClientError as err:
            # DynamoDB refuses a start key that does not fit the query: a stale cursor.
            if start_key and error_code(err) == "ValidationException":
                raise InvalidCursor(cause=err) from err
            raise
        items = [parse(item) for item in response["Items"]]
        last_key = response.get("LastEvaluatedKey")
        return Page(items, encode_cursor(user_id=user_id, scope=scope, last_key=last_key))

    def batch_write(self, requests: Sequence[dict[str, Any]]) -> None:
        """Any number of put/delete requests on this table, 25 per BatchWriteItem.

        DynamoDB may accept part of a batch under load and return the rest as
        UnprocessedItems; nothing is lost as long as those are sent again (with backoff).
        The batches are not one transaction: a failure part-way leaves the earlier ones
        written, so callers write what can be repeated (deletes, idempotent puts).
        """
        for start in range(0, len(requests), BATCH_WRITE_MAX_ITEMS):
            self._write_batch(list(requests[start : start + BATCH_WRITE_MAX_ITEMS]))

    def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        pending = requests
        for attempt in range(BATCH_WRITE_ATTEMPTS):
            response = self.call_client("batch_write_item", RequestItems={self.name: pending})
            pending = response.get("UnprocessedItems", {}).get(self.name, [])
            if not pending:
                return
            time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 (jitter)
        raise Unavailable(f"{len(pending)} writes were still unprocessed after retries.")

    def batch_get(self, keys: Sequence[Item], *, consistent: bool = False) -> list[Item]:
        """The items at ``keys`` that exist, in no particular order, 100 keys per BatchGetItem.

        A repeated key is read once (DynamoDB refuses a batch that names a key twice).
        Keys that DynamoDB leaves unprocessed (under load, or past 16 MB of answer) are
        asked for again with backoff.
        """
        unique = list({json.dumps(key, sort_keys=True): key for key in keys}.values())
        items: list[Item] = []
        for start in range(0, len(unique), BATCH_GET_MAX_KEYS):
            items += self._get_batch(unique[start : start + BATCH_GET_MAX_KEYS], consistent)
        return items

    def _get_batch(self, keys: list[Item], consistent: bool) -> list[Item]:
        return _read_batch(self, {self.name: keys}, consistent=consistent).get(self.name, [])

    def update_versioned(
        self,
        key: Item,
        *,
        changes: Mapping[str, Any],
        expected_version: int | None = None,
        add: Mapping[str, int] | None = None,
        if_match: bool = False,
    ) -> Item:
        """Set ``changes`` (None removes), bump ``version``, and return the new item.

        With ``expected_version`` the write holds only if the stored version still
        equals it (optimistic locking); otherwise ``VersionConflict`` (or
        ``PreconditionFailed`` when ``if_match``) carries the current version. A
        missing item is ``ItemNotFound``.
        """
        names: dict[str, str] = {"#version": "version", "#pk": self.definition.partition_key[0]}
        values: dict[str, Any] = {":one": {"N": "1"}, ":zero": {"N": "0"}}
        sets = ["#version = if_not_exists(#version, :zero) + :one"]
        removes = []
        for position, (attribute, value) in enumerate(changes.items()):
            names[f"#c{position}"] = attribute
            if value is None:
                removes.append(f"#c{position}")
            else:
                values[f":c{position}"] = to_attribute(value)
                sets.append(f"#c{position} = :c{position}")
        for position, (attribute, amount) in enumerate((add or {}).items()):
            names[f"#a{position}"] = attribute
            values[f":a{position}"] = {"N": str(amount)}
            sets.append(f"#a{position} = if_not_exists(#a{position}, :zero) + :a{position}")
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        condition = "attribute_exists(#pk)"
        if expected_version is not None:
            condition += " AND #version = :expected"
            values[":expected"] = {"N": str(expected_version)}
        try:
            response = self.call(
                "update_item",
                Key=key,
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as err:
            current = item_on_failure(err)
            if current is None:
                raise ItemNotFound(cause=err.cause) from err
            version = int(from_number(current.get("version", {"N": "0"})["N"]))
            conflict = PreconditionFailed if if_match else VersionConflict
            raise conflict(current_version=version, cause=err.cause) from err
        return cast(Item, response["Attributes"])


def get_many(reads: Sequence[tuple[Table, Item]], *, consistent: bool = False) -> list[Item | None]:
    """The items at several keys, of one table or several, from one BatchGetItem: in the
    order of ``reads``, None where nothing is stored.

        session, account = get_many([(chat, session_key), (users, user_key)], consistent=True)

    For the few items one request needs together: one round trip and one call's cost
    instead of one of each. Strongly consistent when asked, like GetItem. At most
    BATCH_GET_MAX_KEYS distinct keys; keys left unprocessed are asked for again.
    """
    key_names = {table.name: _key_names(table.definition) for table, _ in reads}
    pending: dict[str, list[Item]] = {}
    for table, key in reads:
        keys = pending.setdefault(table.name, [])
        if key not in keys:
            keys.append(key)
    if not reads or sum(map(len, pending.values())) > BATCH_GET_MAX_KEYS:
        raise ValueError(f"get_many reads 1 to {BATCH_GET_MAX_KEYS} keys, not {len(reads)}")
    found = {
        _identity(name, item, key_names[name]): item
        for name, items in _read_batch(reads[0][0], pending, consistent=consistent).items()
        for item in items
    }
    return [found.get(_identity(t.name, key, key_names[t.name])) for t, key in reads]


def _read_batch(
    caller: Table, keys: Mapping[str, list[Item]], *, consistent: bool
) -> dict[str, list[Item]]:
    """One BatchGetItem's worth of keys (by table name), read whole: the keys DynamoDB
    leaves unprocessed (under load, or past 16 MB of answer) are asked for again with
    backoff. The items found, by table name."""
    found: dict[str, list[Item]] = {}
    pending = dict(keys)
    for attempt in range(BATCH_GET_ATTEMPTS):
        response = caller.call_client(
            "batch_get_item",
            RequestItems={
                name: {"Keys": table_keys, "ConsistentRead": consistent}
                for name, table_keys in pending.items()
            },
        )
        for name, items in response.get("Responses", {}).items():
            found.setdefault(name, []).extend(items)
        unprocessed = response.get("UnprocessedKeys", {})
        pending = {name: left["Keys"] for name, left in unprocessed.items() if left.get("Keys")}
        if not pending:
            return found
        time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 (jitter)
    left = sum(map(len, pending.values()))
    raise Unavailable(f"{left} reads were still unprocessed after retries.")


def _key_names(definition: TableDefinition) -> tuple[str, ...]:
    keys = (definition.partition_key, definition.sort_key)
    return tuple(key[0] for key in keys if key is not None)


def _identity(table_name: str, item: Item, key_names: tuple[str, ...]) -> tuple[str, str]:
    return table_name, json.dumps([item[name] for name in key_names])


def item_on_failure(err: ConditionFailed) -> Item | None:
    """The item as it stood when a write sent with ``ReturnValuesOnConditionCheckFailure=
    "ALL_OLD"`` was refused by its condition; None when there was no item."""
    cause = err.cause
    if isinstance(cause, ClientError):
        return cast(Item | None, cause.response.get("Item"))
    return None
