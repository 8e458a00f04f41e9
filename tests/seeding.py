"""Large accounts made fast: items written through the data layer's batch writes.

    seed_scans(user_id, 200)                      # 200 complete scans, no files
    seed_analysed_scans(user_id, 300, analysis=a) # a scan a day for 300 days, analysed
    seed_messages(user_id, session_id, 5000)      # 5,000 messages in one session
    seed_failed_analysis(user_id, scan_id, reason="timeout", failed_at=t)  # a logged failure

Thousands of API calls would take minutes; the items written here have the shape the
table managers write, and the account's activity counts move as those writes would.
"""

import copy
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from ulid import ULID

from ai.analysis import now_iso
from dynamo.audit import failed_analysis_id, failed_analysis_to_item
from dynamo.base import BATCH_WRITE_MAX_ITEMS
from dynamo.chat import ChatMessage, message_to_item
from dynamo.partitions import partition_table
from dynamo.scans import Scan, scan_to_item
from dynamo.tables import AUDIT, CHAT, SCANS
from dynamo.users import users_table
from scans import storage

# Batches sent at once: DynamoDB Local takes a few milliseconds an item, one at a time.
SEEDING_THREADS = 4


def put_items(definition, items: list[dict]) -> None:
    table = partition_table(definition)
    chunks = [
        [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_MAX_ITEMS]]
        for start in range(0, len(items), BATCH_WRITE_MAX_ITEMS)
    ]
    with ThreadPoolExecutor(SEEDING_THREADS) as pool:
        list(pool.map(table.batch_write, chunks))


def seed_scans(user_id: str, count: int) -> list[str]:
    """``count`` complete scans (their image keys name files that are not stored)."""
    timestamp = now_iso()
    scan_ids = [str(ULID()) for _ in range(count)]
    scans = [
        Scan(
            user_id=user_id,
            scan_id=scan_id,
            status="complete",
            area="face",
            scanned_at=timestamp,
            created_at=timestamp,
            updated_at=timestamp,
            image_key=storage.image_key(user_id, scan_id),
        )
        for scan_id in scan_ids
    ]
    put_items(SCANS, [scan_to_item(scan) for scan in scans])
    users_table().count_activity(
        user_id, counts={"scans": count}, latest={"last_scan_at": timestamp}
    )
    return scan_ids


def seed_failed_analysis(user_id: str, scan_id: str, *, reason: str, failed_at: str) -> str:
    """The scan marked failed (only its status, reason and log ids when it is not
    stored) and its entry in the failed-analysis log dated ``failed_at``, as
    ``scans.services.record`` writes them; returns the entry's id. The account need not
    exist."""
    entry_id = failed_analysis_id(failed_at=failed_at)
    partition_table(SCANS).call(
        "update_item",
        Key={"user_id": {"S": user_id}, "scan_id": {"S": scan_id}},
        UpdateExpression=(
            "SET #status = :failed, failure_reason = :reason, failure_log_ids = "
            "list_append(if_not_exists(failure_log_ids, :none), :entry)"
        ),
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":failed": {"S": "failed"},
            ":reason": {"S": reason},
            ":none": {"L": []},
            ":entry": {"L": [{"S": entry_id}]},
        },
    )
    item = failed_analysis_to_item(
        user_id=user_id, scan_id=scan_id, reason=reason, entry_id=entry_id
    )
    put_items(AUDIT, [item])
    return entry_id


def seed_analysed_scans(
    user_id: str, count: int, *, analysis: dict[str, Any], areas: Sequence[str] = ("face",)
) -> list[str]:
    """``count`` complete scans, one a day up to yesterday (their ids oldest first), each
    holding ``analysis`` (a stored one: an upload's) with its scores moved a little from
    day to day, as a long history of daily scans leaves the partition; their areas take
    ``areas`` in turn."""
    today = datetime.now(UTC).replace(microsecond=0)
    scans = []
    for day in range(count, 0, -1):
        taken = today - timedelta(days=day)
        timestamp = taken.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        scan_id = str(ULID.from_datetime(taken))
        scans.append(
            Scan(
                user_id=user_id,
                scan_id=scan_id,
                status="complete",
                area=areas[day % len(areas)],
                scanned_at=timestamp,
                created_at=timestamp,
                updated_at=timestamp,
                image_key=storage.image_key(user_id, scan_id),
                analysis=moved_scores(analysis, day),
            )
        )
    put_items(SCANS, [scan_to_item(scan) for scan in scans])
    users_table().count_activity(
        user_id, counts={"scans": count}, latest={"last_scan_at": scans[-1].created_at}
    )
    return [scan.scan_id for scan in scans]


def moved_scores(analysis: dict[str, Any], day: int) -> dict[str, Any]:
    """A copy of ``analysis`` whose metric scores moved by up to 5 points (by the day)."""
    moved = copy.deepcopy(analysis)
    for offset, entry in enumerate((moved.get("metrics") or {}).values()):
        if entry.get("score") is not None:
            shift = (day * 7 + offset * 3) % 11 - 5
            entry["score"] = round(min(100.0, max(0.0, entry["score"] + shift)), 1)
    return moved


def seed_messages(user_id: str, session_id: str, count: int) -> None:
    """``count`` messages in an existing session, alternately the person's and replies."""
    timestamp = now_iso()
    messages = [
        ChatMessage(
            user_id=user_id,
            message_id=str(ULID()),
            session_id=session_id,
            role="user" if position % 2 == 0 else "assistant",
            content=f"message {position}",
            created_at=timestamp,
        )
        for position in range(count)
    ]
    put_items(CHAT, [message_to_item(message) for message in messages])
    users_table().count_activity(
        user_id, counts={"chat_messages": count}, latest={"last_message_at": timestamp}
    )
