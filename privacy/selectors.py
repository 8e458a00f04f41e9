"""Reads of everything the service holds about one account, as plain dicts.

    profile = profile_of(user_id=user_id)            # None when the account is gone
    for scan in scans_of(user_id=user_id): ...

Each domain's items are read from its table's partition generically
(``dynamo.partitions``), keeping every attribute that is stored, so the export stays
complete when a domain adds a field and does not depend on its manager's API.
Secrets (the password hash) are left out.
"""

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from accounts.services import normalize_email
from dynamo.chat import SESSION_PREFIX
from dynamo.codec import from_item
from dynamo.partitions import (
    failed_analysis_log_of,
    find_user_id_by_email,
    partition_items,
    partition_pages,
)
from dynamo.plans import CHECK_IN_PREFIX, PLANS_END
from dynamo.tables import CHAT, PLANS, SCANS
from dynamo.users import users_table

SECRET_ATTRIBUTES = frozenset({"password_hash"})


def find_account_id(*, email: str) -> str | None:
    """The id of the account registered with ``email`` (case and spaces do not matter)."""
    return find_user_id_by_email(normalize_email(email))


def profile_of(*, user_id: str) -> dict[str, Any] | None:
    item = users_table().get_item({"user_id": {"S": user_id}}, consistent=True)
    if item is None or item.get("item_type", {}).get("S") != "user":
        return None
    return {name: value for name, value in from_item(item).items() if name not in SECRET_ATTRIBUTES}


def scans_of(*, user_id: str) -> Iterator[dict[str, Any]]:
    """Every scan, oldest first, with its analysis."""
    for item in partition_items(SCANS, user_id):
        yield from_item(item)


def failed_analyses_of(*, user_id: str) -> list[dict[str, Any]]:
    """The failed-analysis log's entries about the account's scans that are still kept
    (the audit table, not the account's partitions): scan, reason and time of each."""
    return [asdict(failure) for failure in failed_analysis_log_of(user_id)]


def plans_of(*, user_id: str) -> Iterator[dict[str, Any]]:
    """Every plan, oldest first (the active-plan pointer and check-ins are not plans)."""
    for item in partition_items(PLANS, user_id, sort_key_below=PLANS_END):
        yield from_item(item)


def check_ins_of(*, user_id: str) -> Iterator[dict[str, Any]]:
    """Every check-in of every stored plan, by plan and day: those of a deleted plan,
    which a job is deleting, went with the plan (``plans.services.delete_plan``)."""
    plan_ids = {
        key["plan_id"]["S"]
        for page in partition_pages(PLANS, user_id, sort_key_below=PLANS_END, keys_only=True)
        for key in page
    }
    for item in partition_items(PLANS, user_id, sort_key_prefix=CHECK_IN_PREFIX):
        # The sort key is "checkin#<plan>#<day>"; the plan's own id is for_plan_id.
        if item["plan_id"]["S"].split("#")[1] not in plan_ids:
            continue
        check_in = from_item(item)
        if "for_plan_id" in check_in:
            check_in["plan_id"] = check_in.pop("for_plan_id")
        yield check_in


def chat_sessions_of(*, user_id: str) -> Iterator[dict[str, Any]]:
    for item in partition_items(CHAT, user_id, sort_key_prefix=SESSION_PREFIX):
        yield from_item(item)


def chat_messages_of(*, user_id: str) -> Iterator[dict[str, Any]]:
    """Every chat item that is not a session: the messages, oldest first."""
    for item in partition_items(CHAT, user_id):
        if not item["message_id"]["S"].startswith(SESSION_PREFIX):
            yield from_item(item)
