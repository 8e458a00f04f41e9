"""Daily counters of the service's activity, written as events happen, for the ops pages.

    daily_stats().add(counts={"scans": 1})                    # in an upload
    days = daily_stats().read(days=14)                         # the ops dashboard

Each UTC day's counters are spread over ``SHARDS`` items of the audit table
(``period = "stats#<YYYY-MM-DD>#<shard>"``, ``entry_id = "counters"``): a write goes to
one shard chosen at random with an atomic ``ADD``, so a busy day never makes one hot
item (one item takes at most 1,000 writes a second), and a read of 14 days is one
BatchGetItem of 14 x SHARDS keys (no Scan, no Query per day). Items expire after
``KEEP_DAYS``.

Events are counted in each process first and written together, at most once per
``DAILY_STATS_WRITE_SECONDS`` (``count_event``, ``PendingCounts``).

AI latency is kept as counts per fixed bucket (``LATENCY_BUCKETS_MS``), so p50 and p95
come from the day's summed buckets: exact to the bucket's bounds, cheap to add up.
"""

import atexit
import functools
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from dynamo.base import Table
from dynamo.errors import DynamoError
from dynamo.tables import AUDIT

logger = logging.getLogger(__name__)

PREFIX = "stats#"
SORT_KEY = "counters"
# Writes spread over this many items per day; a read costs SHARDS keys per day.
SHARDS = 8
KEEP_DAYS = 400
# BatchGetItem reads at most 100 keys per call; unprocessed keys are asked again this
# many times in all (a shard left unread counts as zero rather than fail the page).
BATCH_GET_KEYS = 100
READ_ATTEMPTS = 4
# Upper bounds (ms) of the AI latency buckets; a call slower than the last is "over".
LATENCY_BUCKETS_MS = (250, 500, 1000, 2000, 3000, 5000, 8000, 13000, 20000, 30000, 60000)
COUNTERS = ("signups", "scans", "analyses_complete", "analyses_failed", "chat_replies")


def latency_counter(milliseconds: float) -> str:
    """The counter of the bucket that holds ``milliseconds``."""
    for bound in LATENCY_BUCKETS_MS:
        if milliseconds <= bound:
            return f"ai_ms_le_{bound}"
    return "ai_ms_over"


@dataclass(frozen=True)
class DayStats:
    day: date
    counts: Mapping[str, int] = field(default_factory=dict)

    def count(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    def latency_percentile(self, fraction: float) -> int | None:
        """The bucket bound (ms) under which ``fraction`` of the day's AI calls ended."""
        buckets = [(bound, self.count(f"ai_ms_le_{bound}")) for bound in LATENCY_BUCKETS_MS]
        total = sum(n for _, n in buckets) + self.count("ai_ms_over")
        if total == 0:
            return None
        seen = 0
        for bound, n in buckets:
            seen += n
            if seen >= fraction * total:
                return bound
        return LATENCY_BUCKETS_MS[-1] + 1  # beyond the last bound: "over"


def key(day: date, shard: int) -> dict[str, dict[str, str]]:
    return {"period": {"S": f"{PREFIX}{day.isoformat()}#{shard:02d}"}, "entry_id": {"S": SORT_KEY}}


class DailyStatsTable(Table):
    definition = AUDIT

    def add(self, *, counts: Mapping[str, int], day: date | None = None) -> None:
        """Add ``counts`` to the day's counters (today, UTC) in one random shard."""
        day = day or datetime.now(UTC).date()
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values = {f":v{i}": {"N": str(int(n))} for i, n in enumerate(counts.values())}
        expires = int(time.time()) + KEEP_DAYS * 24 * 60 * 60
        self.call(
            "update_item",
            Key=key(day, random.randrange(SHARDS)),  # noqa: S311 (load spreading, not secrecy)
            UpdateExpression="ADD "
            + ", ".join(f"{n} :v{i}" for i, n in enumerate(names))
            + " SET expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, ":expires": {"N": str(expires)}},
        )

    def read(self, *, days: int, today: date | None = None) -> list[DayStats]:
        """The last ``days`` days, oldest first, every shard summed."""
        today = today or datetime.now(UTC).date()
        wanted = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
        keys = [key(day, shard) for day in wanted for shard in range(SHARDS)]
        totals: dict[str, Counter[str]] = {day.isoformat(): Counter() for day in wanted}
        for start in range(0, len(keys), BATCH_GET_KEYS):
            pending = keys[start : start + BATCH_GET_KEYS]
            for _ in range(READ_ATTEMPTS):
                if not pending:
                    break
                response = self.call_client(
                    "batch_get_item", RequestItems={self.name: {"Keys": pending}}
                )
                for item in response["Responses"].get(self.name, []):
                    day_text = item["period"]["S"].removeprefix(PREFIX).split("#")[0]
                    for name, value in item.items():
                        if "N" in value and name != "expires_at":
                            totals[day_text][name] += int(value["N"])
                pending = response.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
        return [DayStats(day=day, counts=dict(totals[day.isoformat()])) for day in wanted]


@functools.cache
def daily_stats() -> DailyStatsTable:
    return DailyStatsTable()


class PendingCounts:
    """Counts of this process not written yet: one write per ``interval_seconds`` at most.

    Every AI call, upload and sign-up counts something; writing each at once would add
    a DynamoDB write to every such request (and contend on the day's shards under a
    burst). Counts gather here and leave in one ``add`` once the interval has passed
    since the last write (by the event that finds it so, or ``flush`` at exit). A worker
    killed outright loses at most an interval's counts; they are the ops pages' daily
    charts, not records of anyone's data.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.day: date | None = None
        self.written_at = time.monotonic()

    def count(self, counts: Mapping[str, int], *, interval_seconds: float) -> None:
        today = datetime.now(UTC).date()
        with self.lock:
            earlier = self._take() if self.day not in (None, today) else None
            self.day = today
            self.counts.update(counts)
            due = time.monotonic() - self.written_at >= interval_seconds
            now = self._take() if due else None
        for taken in (earlier, now):
            if taken is not None:
                _write(*taken)

    def flush(self) -> None:
        with self.lock:
            taken = self._take()
        if taken is not None:
            _write(*taken)

    def _take(self) -> tuple[date, dict[str, int]] | None:
        self.written_at = time.monotonic()
        counts, day = {k: v for k, v in self.counts.items() if v}, self.day
        self.counts.clear()
        return (day, counts) if counts and day is not None else None


def _write(day: date, counts: Mapping[str, int]) -> None:
    try:
        daily_stats().add(counts=counts, day=day)
    except (DynamoError, ClientError, BotoCoreError) as err:
        logger.warning("daily counters not updated", extra={"error": type(err).__name__})


_pending = PendingCounts()
atexit.register(_pending.flush)


def count_event(**counts: int) -> None:
    """Add to today's counters: written at once with DAILY_STATS_WRITE_SECONDS 0, else
    with this process's other counts, at most one write per that many seconds. A
    failure is logged, never raised (a missed count must not fail the upload, sign-up
    or reply that it counts)."""
    _pending.count(counts, interval_seconds=settings.DAILY_STATS_WRITE_SECONDS)


def flush_counts() -> None:
    """Write this process's pending counts now (at exit; the tests)."""
    _pending.flush()
