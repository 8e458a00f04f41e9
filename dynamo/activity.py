"""What an ops page may know of one account's data: counts, times and failure reasons.

    activity = account_activity(user_id)       # scans, plans, chat sessions and messages
    failures = failed_scans(user_id, limit=20)  # id, reason and time of each failed scan

The counts are kept, not counted: the account's activity item (``activity#<user_id>``
in the users table, see ``dynamo.users.activity_update``) moves in the same
transaction as each scan, plan, session and message that is created, and with each
deletion and each analysis that fails; so the account page costs one GetItem however
large the account. An account made before these counts existed is counted once, in
full (``Select=COUNT`` over its partitions), the first time it is read, and its counts
are kept from then on.

Every read here names the attributes it wants or only counts, so no image key,
analysis or chat text ever leaves DynamoDB for an ops page: staff run the service, they
do not browse people's data. All reads are by key or Queries on the account's own
partitions, never a Scan.
"""

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dynamo.base import Table
from dynamo.chat import SESSION_PREFIX, chat_table
from dynamo.errors import ConditionFailed
from dynamo.plans import PLANS_END, plans_table
from dynamo.scans import scans_table
from dynamo.users import (
    ACTIVITY_COUNTED,
    ACTIVITY_COUNTS,
    ACTIVITY_LATEST,
    activity_key,
    users_table,
)

# Reading failed scans stops after this many pages of a (large) scans partition.
FAILED_SCANS_MAX_PAGES = 10
FAILED_SCANS_PAGE_ITEMS = 100


@dataclass(frozen=True, slots=True)
class AccountActivity:
    scans: int
    failed_scans: int
    plans: int
    chat_sessions: int
    chat_messages: int
    last_scan_at: str | None
    last_plan_at: str | None
    last_message_at: str | None

    def last_activity_at(self, *, profile_updated_at: str) -> str:
        moments = [profile_updated_at, self.last_scan_at, self.last_plan_at, self.last_message_at]
        return max((m for m in moments if m), key=datetime.fromisoformat)


@dataclass(frozen=True, slots=True)
class FailedScan:
    scan_id: str
    reason: str | None
    updated_at: str


# Plans and chat partitions hold other item kinds too (see dynamo/plans.py, dynamo/chat.py):
# their lower-case prefixes sort after every ULID, so a range on the sort key picks one kind.
PLANS_ONLY = ("user_id = :user_id AND plan_id < :end", {":end": {"S": PLANS_END}})
MESSAGES_ONLY = (
    "user_id = :user_id AND message_id < :sessions",
    {":sessions": {"S": SESSION_PREFIX}},
)
SESSIONS_ONLY = (
    "user_id = :user_id AND begins_with(message_id, :sessions)",
    {":sessions": {"S": SESSION_PREFIX}},
)


def account_activity(user_id: str) -> AccountActivity:
    """The account's kept counts: one strongly consistent GetItem (once: a full count)."""
    users = users_table()
    item = users.get_item(activity_key(user_id), consistent=True)
    if item is None or ACTIVITY_COUNTED not in item:
        return recount_activity(user_id)

    def latest(name: str) -> str | None:
        value = item.get(name)
        return value["S"] if value else None

    counts = {name: max(0, int(item.get(name, {"N": "0"})["N"])) for name in ACTIVITY_COUNTS}
    return AccountActivity(
        **counts,
        last_scan_at=latest("last_scan_at"),
        last_plan_at=latest("last_plan_at"),
        last_message_at=latest("last_message_at"),
    )


def recount_activity(user_id: str) -> AccountActivity:
    """Count the account's items in full, and keep the result as its activity counts.

    For accounts older than the kept counts. Writes that ran meanwhile added to the
    item; the full count includes them, so it replaces what they added.
    """
    activity = count_activity(user_id)
    values = {name: getattr(activity, name) for name in ACTIVITY_COUNTS}
    moments = {
        name: getattr(activity, name)
        for name in ACTIVITY_LATEST
        if getattr(activity, name) is not None
    }
    names = {f"#a{i}": name for i, name in enumerate([*values, *moments])}
    attribute_values = {
        f":a{i}": {"N": str(v)} if isinstance(v, int) else {"S": v}
        for i, v in enumerate([*values.values(), *moments.values()])
    }
    assignments = [f"#a{i} = :a{i}" for i in range(len(names))]
    users = users_table()
    if users.get(user_id) is None:
        return activity  # erased meanwhile: its counts are not brought back
    # Refused: another read counted it first, and its counts are kept.
    with contextlib.suppress(ConditionFailed):
        users.call(
            "update_item",
            Key=activity_key(user_id),
            UpdateExpression="SET item_type = :type, #counted = :yes, " + ", ".join(assignments),
            ConditionExpression="attribute_not_exists(#counted)",
            ExpressionAttributeNames={**names, "#counted": ACTIVITY_COUNTED},
            ExpressionAttributeValues={
                **attribute_values,
                ":type": {"S": "activity"},
                ":yes": {"BOOL": True},
            },
        )
    return activity


def count_activity(user_id: str) -> AccountActivity:
    """Count the account's items: ``Select=COUNT`` over every page of its partitions."""
    scans, plans, chat = scans_table(), plans_table(), chat_table()
    return AccountActivity(
        scans=count_items(scans, user_id),
        failed_scans=count_items(
            scans,
            user_id,
            filter_expression="#status = :failed",
            names={"#status": "status"},
            values={":failed": {"S": "failed"}},
        ),
        plans=count_items(plans, user_id, key_condition=PLANS_ONLY[0], values=PLANS_ONLY[1]),
        chat_sessions=count_items(
            chat, user_id, key_condition=SESSIONS_ONLY[0], values=SESSIONS_ONLY[1]
        ),
        chat_messages=count_items(
            chat, user_id, key_condition=MESSAGES_ONLY[0], values=MESSAGES_ONLY[1]
        ),
        last_scan_at=newest_attribute(scans, user_id, attribute="created_at"),
        last_plan_at=newest_attribute(
            plans,
            user_id,
            attribute="updated_at",
            key_condition=PLANS_ONLY[0],
            values=PLANS_ONLY[1],
        ),
        last_message_at=newest_attribute(
            chat,
            user_id,
            attribute="created_at",
            key_condition=MESSAGES_ONLY[0],
            values=MESSAGES_ONLY[1],
        ),
    )


def failed_scans(user_id: str, *, limit: int) -> list[FailedScan]:
    """The account's failed scans, newest first: ids, reasons and times only."""
    found: list[FailedScan] = []
    start_key = None
    for _ in range(FAILED_SCANS_MAX_PAGES):
        request: dict[str, Any] = {
            "KeyConditionExpression": "user_id = :user_id",
            "FilterExpression": "#status = :failed",
            "ProjectionExpression": "scan_id, failure_reason, updated_at",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":user_id": {"S": user_id},
                ":failed": {"S": "failed"},
            },
            "ScanIndexForward": False,
            "Limit": FAILED_SCANS_PAGE_ITEMS,
        }
        if start_key:
            request["ExclusiveStartKey"] = start_key
        response = scans_table().call("query", **request)
        for item in response["Items"]:
            reason = item.get("failure_reason")
            found.append(
                FailedScan(
                    scan_id=item["scan_id"]["S"],
                    reason=reason["S"] if reason else None,
                    updated_at=item["updated_at"]["S"],
                )
            )
            if len(found) == limit:
                return found
        start_key = response.get("LastEvaluatedKey")
        if not start_key:
            break
    return found


def count_items(
    table: Table,
    user_id: str,
    *,
    key_condition: str = "user_id = :user_id",
    values: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
    filter_expression: str | None = None,
) -> int:
    """How many items of the partition match: ``Select=COUNT``, every page (1 MB each)."""
    request: dict[str, Any] = {
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": {":user_id": {"S": user_id}, **(values or {})},
        "Select": "COUNT",
    }
    if filter_expression:
        request["FilterExpression"] = filter_expression
    if names:
        request["ExpressionAttributeNames"] = names
    total = 0
    while True:
        response = table.call("query", **request)
        total += int(response["Count"])
        last_key = response.get("LastEvaluatedKey")
        if not last_key:
            return total
        request["ExclusiveStartKey"] = last_key


def newest_attribute(
    table: Table,
    user_id: str,
    *,
    attribute: str,
    key_condition: str = "user_id = :user_id",
    values: dict[str, Any] | None = None,
) -> str | None:
    """One string attribute of the partition's newest item (by sort key), or None."""
    response = table.call(
        "query",
        KeyConditionExpression=key_condition,
        ExpressionAttributeValues={":user_id": {"S": user_id}, **(values or {})},
        ExpressionAttributeNames={"#wanted": attribute},
        ProjectionExpression="#wanted",
        ScanIndexForward=False,
        Limit=1,
    )
    items = response["Items"]
    if not items or attribute not in items[0]:
        return None
    value: str = items[0][attribute]["S"]
    return value
