"""The audit table: what staff did on the ops pages, and the log of failed analyses.

    audit = audit_table()
    audit.record(entry)                                        # one PutItem
    page = audit.list_entries(limit=50, cursor=None, scope="audit:<staff id>")
    entry_id = failed_analysis_id(failed_at=t)                 # kept on the scan first
    audit.record_failed_analysis(user_id=u, scan_id=s, reason="timeout", entry_id=entry_id)
    failures = audit.recent_failed_analyses(days=7, limit=50)

Why these keys: "newest first" has to be a Query, never a Scan, and no single partition
may grow without end.

- An audit entry lives in its month's partition, ``period = "audit#<YYYY-MM>"``, sorted
  by ``entry_id`` (a ULID, so by time). A page is a backwards Query on the current month
  that carries on into earlier months until the page is full; the walk stops at the
  month the table was created (DescribeTable's ``CreationDateTime``), so an empty past
  costs nothing, and at most ``MAX_MONTHS_PER_PAGE`` months are read per page. Staff
  actions come a few a minute at most, far below one partition's write limit, and a
  month is a natural unit to export or archive. Audit entries never expire.
- A failed analysis lives in its day's partition, ``period = "failed-analysis#<YYYY-MM-DD>"``
  (days, because failures come in bursts when a provider is down), and expires through
  TTL after ``FAILED_ANALYSIS_DAYS``. The dashboard reads the last few days, newest first,
  one Query a day. Its ``entry_id`` is a ULID of the moment the analysis failed, so the
  id alone gives the day and the key (``failed_analysis_key``); the failed scan keeps
  the ids of its entries (``failure_log_ids``, written before the entry, and the entry
  is written only while the scan holds its id and the account is open), so that deleting
  a scan or erasing an account finds every entry by key, never by a Scan.
- The sparse GSI ``target-index`` (``target_user_id``, ``entry_id``) holds the entries about
  an account, so a user's ops page lists what staff did to it in one Query.

Entries name accounts by id, and say what was done, never what the account holds: no
photo, analysis or chat text is ever written here.
"""

import functools
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ulid import ULID

from dynamo.base import BATCH_GET_MAX_KEYS, Page, Table, get_many
from dynamo.codec import Item, from_attribute, to_item
from dynamo.cursors import read_cursor, sign_cursor
from dynamo.errors import ConditionFailed, InvalidCursor
from dynamo.tables import AUDIT, SCANS
from dynamo.users import account_open_check

AUDIT_PREFIX = "audit#"
FAILED_ANALYSIS_PREFIX = "failed-analysis#"
TARGET_INDEX = "target-index"
FAILED_ANALYSIS_DAYS = 30
# A scan keeps the ids of its entries this long: TTL deletes an expired item within
# about two days, and until then the item is still there to delete.
FAILED_ANALYSIS_IDS_KEPT_DAYS = FAILED_ANALYSIS_DAYS + 7
MAX_MONTHS_PER_PAGE = 12
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
ENTRY_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    entry_id: str  # a ULID
    at: str  # ISO 8601, UTC
    actor_user_id: str  # the staff member, or "manage.py" for a command
    actor_email: str
    action: str
    target_user_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # counts and codes, never content

    @property
    def period(self) -> str:
        return AUDIT_PREFIX + self.at[:7]


@dataclass(frozen=True, slots=True)
class FailedAnalysis:
    user_id: str
    scan_id: str
    reason: str
    failed_at: str


def entry_to_item(entry: AuditEntry) -> Item:
    return to_item(
        {
            "period": entry.period,
            "entry_id": entry.entry_id,
            "item_type": "audit",
            "at": entry.at,
            "actor_user_id": entry.actor_user_id,
            "actor_email": entry.actor_email,
            "action": entry.action,
            "target_user_id": entry.target_user_id,
            "details": entry.details or None,
        }
    )


def entry_from_item(item: Item) -> AuditEntry:
    target = item.get("target_user_id")
    details = item.get("details")
    return AuditEntry(
        entry_id=item["entry_id"]["S"],
        at=item["at"]["S"],
        actor_user_id=item["actor_user_id"]["S"],
        actor_email=item["actor_email"]["S"],
        action=item["action"]["S"],
        target_user_id=target["S"] if target else None,
        details=from_attribute(details) if details else {},
    )


def failed_analysis_from_item(item: Item) -> FailedAnalysis:
    return FailedAnalysis(
        user_id=item["user_id"]["S"],
        scan_id=item["scan_id"]["S"],
        reason=item["reason"]["S"],
        failed_at=item["failed_at"]["S"],
    )


def failed_analysis_id(*, failed_at: str) -> str:
    """A new entry id for an analysis that failed at ``failed_at`` (ISO 8601, UTC)."""
    return str(ULID.from_datetime(datetime.fromisoformat(failed_at)))


def failed_analysis_key(entry_id: str) -> Item:
    """The key of the log entry ``entry_id``: its day partition is the ULID's own."""
    day = ULID.from_str(entry_id).datetime.date().isoformat()
    return {"period": {"S": FAILED_ANALYSIS_PREFIX + day}, "entry_id": {"S": entry_id}}


def failed_analysis_to_item(*, user_id: str, scan_id: str, reason: str, entry_id: str) -> Item:
    failed_at = ULID.from_str(entry_id).datetime
    return failed_analysis_key(entry_id) | to_item(
        {
            "item_type": "failed_analysis",
            "user_id": user_id,
            "scan_id": scan_id,
            "reason": reason,
            "failed_at": failed_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "expires_at": int(time.time()) + FAILED_ANALYSIS_DAYS * 24 * 60 * 60,
        }
    )


def failed_analysis_ids_kept(entry_ids: Iterable[str], *, now: datetime | None = None) -> list[str]:
    """The ids whose entries may still be stored (younger than FAILED_ANALYSIS_IDS_KEPT_DAYS)."""
    oldest = (now or datetime.now(UTC)) - timedelta(days=FAILED_ANALYSIS_IDS_KEPT_DAYS)
    return [i for i in entry_ids if ULID.from_str(i).datetime >= oldest]


def previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


class AuditTable(Table):
    definition = AUDIT

    # --- staff actions ------------------------------------------------------------------

    def record(self, entry: AuditEntry) -> None:
        self.call(
            "put_item",
            Item=entry_to_item(entry),
            ConditionExpression="attribute_not_exists(entry_id)",
        )

    def list_entries(
        self, *, limit: int, cursor: str | None, scope: str, now: datetime | None = None
    ) -> Page[AuditEntry]:
        """Every entry, newest first, walking month partitions backwards."""
        month, start_id = self._decode(cursor, scope) or (_month_of(now), None)
        earliest = self.earliest_month()
        entries: list[AuditEntry] = []
        for _ in range(MAX_MONTHS_PER_PAGE):
            if month < earliest:
                return Page(entries, None)
            request: dict[str, Any] = {
                "KeyConditionExpression": "period = :period",
                "ExpressionAttributeValues": {":period": {"S": AUDIT_PREFIX + month}},
                "ScanIndexForward": False,
                "Limit": limit - len(entries),
            }
            if start_id:
                request["ExclusiveStartKey"] = {
                    "period": {"S": AUDIT_PREFIX + month},
                    "entry_id": {"S": start_id},
                }
            response = self.call("query", **request)
            entries += [entry_from_item(item) for item in response["Items"]]
            last_key = response.get("LastEvaluatedKey")
            if last_key:
                start_id = last_key["entry_id"]["S"]
            else:
                month, start_id = previous_month(month), None
            if len(entries) >= limit:
                more = month >= earliest
                return Page(entries, self._encode(scope, month, start_id) if more else None)
        return Page(entries, self._encode(scope, month, start_id))

    def entries_about(self, target_user_id: str, *, limit: int) -> list[AuditEntry]:
        """The newest entries about one account (the GSI: eventually consistent)."""
        response = self.call(
            "query",
            IndexName=TARGET_INDEX,
            KeyConditionExpression="target_user_id = :target",
            ExpressionAttributeValues={":target": {"S": target_user_id}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [entry_from_item(item) for item in response["Items"]]

    def earliest_month(self) -> str:
        """The month the table was created: no entry can be older."""
        return _creation_month(self.name)

    # --- failed analyses ----------------------------------------------------------------

    def record_failed_analysis(
        self, *, user_id: str, scan_id: str, reason: str, entry_id: str
    ) -> None:
        """Log one failed analysis (the scan keeps its own status; this is for the dashboard).

        The scan must already hold ``entry_id`` in its ``failure_log_ids``: the entry is
        written in one transaction with that check and the account's being open, so a
        scan deleted or an account erased meanwhile (whose sweep read the ids already)
        leaves no entry behind; ``ConditionFailed`` then, and nothing is written.
        """
        item = failed_analysis_to_item(
            user_id=user_id, scan_id=scan_id, reason=reason, entry_id=entry_id
        )
        scan_holds_it = {
            "ConditionCheck": {
                "TableName": SCANS.name,
                "Key": {"user_id": {"S": user_id}, "scan_id": {"S": scan_id}},
                "ConditionExpression": "contains(failure_log_ids, :entry)",
                "ExpressionAttributeValues": {":entry": {"S": entry_id}},
            }
        }
        self.transact_write(
            [
                account_open_check(user_id),
                scan_holds_it,
                {"Put": {"TableName": self.name, "Item": item}},
            ],
            refused=ConditionFailed,
        )

    def failed_analyses(self, entry_ids: Sequence[str]) -> list[FailedAnalysis]:
        """The entries with these ids that are still stored (BatchGetItem, 100 keys a call)."""
        found: list[FailedAnalysis] = []
        for start in range(0, len(entry_ids), BATCH_GET_MAX_KEYS):
            keys = [failed_analysis_key(i) for i in entry_ids[start : start + BATCH_GET_MAX_KEYS]]
            items = get_many([(self, key) for key in keys], consistent=True)
            found += [failed_analysis_from_item(item) for item in items if item is not None]
        return found

    def delete_failed_analyses(self, entry_ids: Iterable[str]) -> None:
        """Delete these entries, wherever they are still stored."""
        self.batch_write([{"DeleteRequest": {"Key": failed_analysis_key(i)}} for i in entry_ids])

    def recent_failed_analyses(
        self, *, days: int, limit: int, today: date | None = None
    ) -> list[FailedAnalysis]:
        """Failures of the last ``days`` days, newest first: one Query per day at most."""
        day = today or datetime.now(UTC).date()
        failures: list[FailedAnalysis] = []
        for _ in range(days):
            if len(failures) >= limit:
                break
            response = self.call(
                "query",
                KeyConditionExpression="period = :period",
                ExpressionAttributeValues={
                    ":period": {"S": FAILED_ANALYSIS_PREFIX + day.isoformat()}
                },
                ScanIndexForward=False,
                Limit=limit - len(failures),
            )
            failures += [failed_analysis_from_item(item) for item in response["Items"]]
            day -= timedelta(days=1)
        return failures

    # --- cursors ------------------------------------------------------------------------

    @staticmethod
    def _encode(scope: str, month: str, start_id: str | None) -> str:
        return sign_cursor({"m": month, "k": start_id}, scope=f"audit:{scope}")

    @staticmethod
    def _decode(cursor: str | None, scope: str) -> tuple[str, str | None] | None:
        if not cursor:
            return None
        payload = read_cursor(cursor, scope=f"audit:{scope}")
        month, start_id = payload.get("m"), payload.get("k")
        if not isinstance(month, str) or not MONTH.match(month):
            raise InvalidCursor()
        if start_id is not None and not (isinstance(start_id, str) and ENTRY_ID.match(start_id)):
            raise InvalidCursor()
        return month, start_id


def _month_of(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m")


@functools.cache
def _creation_month(table_name: str) -> str:
    table = audit_table().call_client("describe_table", TableName=table_name)["Table"]
    created: datetime = table["CreationDateTime"]
    return created.astimezone(UTC).strftime("%Y-%m")


@functools.cache
def audit_table() -> AuditTable:
    return AuditTable()
