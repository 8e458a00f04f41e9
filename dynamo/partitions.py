"""Every item of one user, table by table: read them all, delete them all.

    for item in partition_items(SCANS, user_id):        # every page of one Query
        ...
    delete_partition(SCANS, user_id)                     # batches of 25, re-runnable
    delete_user_items(user_id, "ana@example.com")        # the users table's own items

Account export and erasure need the whole of a user's data, whatever item kinds a
table manager keeps in the partition, so this module works from the table definitions
only: a Query on the partition key (never a Scan), all pages, strongly consistent.
Deletes are unconditional BatchWriteItem requests, so running an erasure again after
an interruption deletes what is left and finds the rest already gone.

The users table is keyed by item, not by user: besides the user item it holds the email
claim ("email#<address>"), the account's activity counts ("activity#<user_id>"), daily
quota counters ("quota#<name>#<user_id>#<day>"),
upload idempotency claims ("idempotency#<user_id>#<sha256 of the client's key>"; the
keys of chat messages and plans are in the jobs partition, ``dynamo.request_keys``) and
revoked refresh tokens ("revoked-refresh#<jti>", naming the user in ``owner_user_id``).
None of these is in the user's partition and no index finds them by user. The user
item and the claim are deleted by key; the quota counters of the last few days are
computed and deleted; idempotency claims (24 hours) and revoked-token records (the
refresh token's lifetime) cannot be addressed without a Scan and are left to expire
through the table's TTL (``expires_at``).

The failed-analysis log is in the audit table's day partitions; the account's scans
keep the ids of its entries, which are deleted by key (``delete_failed_analysis_log``).
"""

import contextlib
import functools
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dynamo.allowances import DAILY_ALLOWANCES
from dynamo.audit import FailedAnalysis, audit_table
from dynamo.base import Table
from dynamo.codec import Item
from dynamo.errors import ConditionFailed
from dynamo.scans import scans_table
from dynamo.tables import CHAT, JOBS, PLANS, SCANS, USERS, TableDefinition
from dynamo.users import EMAIL_CLAIM_PREFIX, activity_key, quota_key, users_table

# The tables whose partition key is the owner's user id: a partition is one user's.
USER_PARTITIONS: tuple[TableDefinition, ...] = (SCANS, PLANS, CHAT, JOBS)

# Items per Query page: big enough for few round trips, small enough to keep memory flat.
PAGE_SIZE = 200
# The daily allowances counted in the users table.
QUOTA_NAMES: tuple[str, ...] = tuple(allowance.name for allowance in DAILY_ALLOWANCES)
# A counter lives two days after its last use, and DynamoDB's TTL usually deletes expired
# items within two days more: older counters are (nearly always) gone by themselves.
QUOTA_DAYS_KEPT = 5


@functools.cache
def partition_table(definition: TableDefinition) -> Table:
    """A ``Table`` for ``definition``, sharing the client and the error translation."""
    table: Table = type("PartitionTable", (Table,), {"definition": definition})()
    return table


def partition_pages(
    definition: TableDefinition,
    user_id: str,
    *,
    sort_key_prefix: str | None = None,
    sort_key_below: str | None = None,
    keys_only: bool = False,
    page_size: int = PAGE_SIZE,
) -> Iterator[list[Item]]:
    """Every page of the Query of ``user_id``'s partition, in sort-key order.

    ``sort_key_prefix`` (begins_with) or ``sort_key_below`` (<) narrow the Query to one
    item kind; ``keys_only`` reads just the key attributes (for deletes).
    """
    table = partition_table(definition)
    partition_key = definition.partition_key[0]
    names = {"#pk": partition_key}
    values: dict[str, Any] = {":pk": {"S": user_id}}
    condition = "#pk = :pk"
    if sort_key_prefix is not None or sort_key_below is not None:
        if definition.sort_key is None:
            raise ValueError(f"{definition.name} has no sort key to narrow the Query by.")
        names["#sk"] = definition.sort_key[0]
        if sort_key_prefix is not None:
            condition += " AND begins_with(#sk, :sk)"
            values[":sk"] = {"S": sort_key_prefix}
        else:
            condition += " AND #sk < :sk"
            values[":sk"] = {"S": sort_key_below}
    request: dict[str, Any] = {
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ConsistentRead": True,
        "Limit": page_size,
    }
    if keys_only:
        key_names = {f"#k{i}": name for i, name in enumerate(_key_attributes(definition))}
        names.update(key_names)
        request["ProjectionExpression"] = ", ".join(key_names)
    while True:
        response = table.call("query", **request)
        if response["Items"]:
            yield response["Items"]
        last_key = response.get("LastEvaluatedKey")
        if not last_key:
            return
        request["ExclusiveStartKey"] = last_key


def partition_items(
    definition: TableDefinition,
    user_id: str,
    *,
    sort_key_prefix: str | None = None,
    sort_key_below: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[Item]:
    """Every item of ``user_id``'s partition, one page in memory at a time."""
    for page in partition_pages(
        definition,
        user_id,
        sort_key_prefix=sort_key_prefix,
        sort_key_below=sort_key_below,
        page_size=page_size,
    ):
        yield from page


def delete_partition(definition: TableDefinition, user_id: str) -> int:
    """Delete every item of ``user_id``'s partition; returns how many were deleted.

    Deleting behind the Query's position does not disturb its pagination, and a
    repeated run finds only what an interrupted one left.
    """
    table = partition_table(definition)
    deleted = 0
    for page in partition_pages(definition, user_id, keys_only=True):
        delete_keys(table, page)
        deleted += len(page)
    return deleted


def delete_failed_analysis_log(user_id: str) -> None:
    """Delete the account's entries in the failed-analysis log (``dynamo.audit``).

    They live in the audit table's day partitions, not the account's: its scans keep
    their ids, so this must run before the scans partition is deleted. An entry is
    written only while its scan holds its id and the account is open, so once the
    account is closed this finds every one.
    """
    audit_table().delete_failed_analyses(list(scans_table().failure_log_ids_of(user_id)))


def failed_analysis_log_of(user_id: str) -> list[FailedAnalysis]:
    """The account's entries in the failed-analysis log that are still stored."""
    return audit_table().failed_analyses(list(scans_table().failure_log_ids_of(user_id)))


def delete_keys(table: Table, keys: Sequence[Item]) -> None:
    """Unconditional deletes (``batch_write`` keeps to DynamoDB's batch limits)."""
    table.batch_write([{"DeleteRequest": {"Key": key}} for key in keys])


def delete_user_items(
    user_id: str,
    email: str | None,
    *,
    quota_names: Iterable[str] = QUOTA_NAMES,
    today: date | None = None,
) -> None:
    """Delete the user's own items in the users table: quota counters, the activity
    counts, claim, user item.

    The user item goes last: while it exists the account can still be found (by its
    email claim, or by the ``email-index`` once the claim is gone) and the erasure run
    again. The claim is deleted only while it still names this user, so a re-run can
    never release an address that someone has registered since. Idempotency claims and
    revoked-token records are not addressable by user and expire by TTL (see above).
    """
    table = partition_table(USERS)
    today = today or datetime.now(UTC).date()
    days = [(today - timedelta(days=back)).isoformat() for back in range(QUOTA_DAYS_KEPT)]
    quota_keys = [quota_key(user_id, name=name, day=day) for name in quota_names for day in days]
    delete_keys(table, [*quota_keys, activity_key(user_id)])
    if email is not None:
        # A refusal means the address belongs to another account now: not ours to delete.
        with contextlib.suppress(ConditionFailed):
            table.call(
                "delete_item",
                Key={"user_id": {"S": EMAIL_CLAIM_PREFIX + email}},
                ConditionExpression="attribute_not_exists(user_id) OR owner_user_id = :owner",
                ExpressionAttributeValues={":owner": {"S": user_id}},
            )
    table.call("delete_item", Key={"user_id": {"S": user_id}})
    users_table().forget(user_id)


def find_user_id_by_email(email: str) -> str | None:
    """The id of the account with ``email`` (already normalised), or None.

    The email claim answers with a strongly consistent read; when an interrupted
    erasure has deleted the claim but not yet the user item, the ``email-index`` GSI
    (eventually consistent) still finds the user item.
    """
    users = users_table()
    claimed = users.find_user_id(email)
    if claimed is not None:
        return claimed
    user = users.find_by_email(email)
    return user.user_id if user else None


def _key_attributes(definition: TableDefinition) -> list[str]:
    return [key[0] for key in (definition.partition_key, definition.sort_key) if key]
