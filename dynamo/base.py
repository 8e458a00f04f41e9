"""What every table manager shares: the client, the table's name, error translation,
one page of a Query, and optimistic-locking updates.

    class ScansTable(Table):
        definition = SCANS

A manager subclasses ``Table``, knows one table's keys and item shape, and returns
frozen dataclasses. This module holds no knowledge of HTTP.
"""

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from dynamo.client import get_client
from dynamo.codec import Item, from_number, to_attribute
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

TRANSACTION_ATTEMPTS = 6
BATCH_WRITE_ATTEMPTS = 8


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
            return getattr(self.client, operation)(**request)
        except (ClientError, BotoCoreError) as err:
            translated = translate(err)
            if translated is err:
                raise
            raise translated from err

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
        retrying with jitter lets exactly one of them win and the rest see its write.
        """
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                self.call_client("transact_write_items", TransactItems=request)
                return
            except ClientError as err:
                if error_code(err) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in err.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    failed_at = reasons.index("ConditionalCheckFailed")
                    raise (refused_at or {}).get(failed_at, refused)(cause=err) from err
                if "TransactionConflict" not in reasons or attempt == TRANSACTION_ATTEMPTS - 1:
                    raise Unavailable(cause=err) from err
                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 (jitter)

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
    ) -> Page[T]:
        """One Query in the caller's partition; the cursor is bound to user and scope."""
        request: dict[str, Any] = {
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": {
                ":user_id": {"S": user_id},
                **{name: to_attribute(value) for name, value in (values or {}).items()},
            },
            "ScanIndexForward": not newest_first,
            "Limit": limit,
        }
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

    def batch_write(self, requests: list[dict[str, Any]]) -> None:
        """BatchWriteItem on this table, retrying unprocessed items with backoff.

        DynamoDB may accept part of a batch under load and return the rest as
        UnprocessedItems; nothing is lost as long as those are sent again.
        """
        pending = requests
        for attempt in range(BATCH_WRITE_ATTEMPTS):
            response = self.call_client("batch_write_item", RequestItems={self.name: pending})
            pending = response.get("UnprocessedItems", {}).get(self.name, [])
            if not pending:
                return
            time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 (jitter)
        raise Unavailable(f"{len(pending)} writes were still unprocessed after retries.")

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
            current = _item_on_failure(err)
            if current is None:
                raise ItemNotFound(cause=err.cause) from err
            version = int(from_number(current.get("version", {"N": "0"})["N"]))
            conflict = PreconditionFailed if if_match else VersionConflict
            raise conflict(current_version=version, cause=err.cause) from err
        return response["Attributes"]


def _item_on_failure(err: ConditionFailed) -> Item | None:
    cause = err.cause
    if isinstance(cause, ClientError):
        return cause.response.get("Item")
    return None
