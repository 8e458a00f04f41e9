"""Limit counters shared by every worker and host: request rates and failed attempts,
and flags that last a while (a recent password reset).

    limits = limits_table()
    count = limits.count_in_window("dermalens#throttle_login_10.0.0.1", seconds=60, now=t)
    limits.give_back_in_window("dermalens#throttle_login_10.0.0.1", seconds=60, now=t)
    failures = limits.get_failures("dermalens#login#<digest>")      # None: no record
    limits.put_failures(key, failures=6, locked_until=t, expires_at=t2, previous=failures)
    limits.delete_failures(key)
    limits.mark(key, until=t)                     # a flag that lasts until t
    limits.marked_until(key)                      # t, or None
    limits.take_turn("photo#<user_id>", holder=h, now=t, until=t + 120)   # False: held
    limits.end_turn("photo#<user_id>", holder=h)

Turns (one request at a time of a kind per account) live there too. They all live in the
users table beside the accounts, under ids no account can have (``rate#...``,
``failures#...``, ``mark#...``, ``turn#...``), and expire through the table's TTL
(``expires_at``). DynamoDB deletes expired items within a day or two, not at once, so
``get_failures`` and ``marked_until`` return the expiry and the caller treats an expired
item as absent.

A failure record is written with optimistic locking on the count it replaces: of two
requests that read the same record, one writes and the other is told to read again, so
concurrent attempts on one subject are counted one by one and none slips past a lock.
"""

import contextlib
import functools
from dataclasses import dataclass
from typing import Any

from dynamo.base import Table
from dynamo.codec import to_item
from dynamo.errors import ConditionFailed
from dynamo.tables import USERS

RATE_PREFIX = "rate#"
FAILURES_PREFIX = "failures#"
MARK_PREFIX = "mark#"
TURN_PREFIX = "turn#"
# Counters outlive their window a little, so a slow clock never resets one early.
COUNTER_GRACE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class WindowCount:
    """The hits counted in the current fixed window, and when it ends (epoch seconds)."""

    hits: int
    window_ends_at: int


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """Failed attempts on one subject, and until when (epoch seconds) it is locked."""

    failures: int
    locked_until: int
    expires_at: int


class LimitsTable(Table):
    definition = USERS

    def count_hit(self, key: str, *, expires_at: int, by: int = 1) -> int:
        """Add ``by`` (one) to a rate counter and return the new count (one atomic write)."""
        response = self.call(
            "update_item",
            Key={"user_id": {"S": RATE_PREFIX + key}},
            UpdateExpression="SET item_type = :type, expires_at = :expires ADD hits :one",
            ExpressionAttributeValues={
                ":type": {"S": "rate_counter"},
                ":expires": {"N": str(expires_at)},
                ":one": {"N": str(by)},
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["hits"]["N"])

    def count_in_window(self, key: str, *, seconds: int, now: int) -> WindowCount:
        """Add one to ``key``'s counter of the fixed window of ``seconds`` holding ``now``."""
        window = now // seconds
        ends_at = (window + 1) * seconds
        hits = self.count_hit(f"{key}#{window}", expires_at=ends_at + COUNTER_GRACE_SECONDS)
        return WindowCount(hits, ends_at)

    def give_back_in_window(self, key: str, *, seconds: int, now: int) -> None:
        """Take back one hit that ``count_in_window`` counted with the same ``now``."""
        window = now // seconds
        ends_at = (window + 1) * seconds
        self.count_hit(f"{key}#{window}", expires_at=ends_at + COUNTER_GRACE_SECONDS, by=-1)

    def get_failures(self, key: str) -> FailureRecord | None:
        item = self.get_item({"user_id": {"S": FAILURES_PREFIX + key}}, consistent=True)
        if item is None:
            return None
        return FailureRecord(
            failures=int(item["failures"]["N"]),
            locked_until=int(item["locked_until"]["N"]),
            expires_at=int(item["expires_at"]["N"]),
        )

    def put_failures(
        self,
        key: str,
        *,
        failures: int,
        locked_until: int,
        expires_at: int,
        previous: FailureRecord | None,
    ) -> bool:
        """Replace the record read as ``previous``; False if it changed meanwhile."""
        item = to_item(
            {
                "user_id": FAILURES_PREFIX + key,
                "item_type": "failure_counter",
                "failures": failures,
                "locked_until": locked_until,
                "expires_at": expires_at,
            }
        )
        if previous is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(user_id)"}
        else:
            condition = {
                "ConditionExpression": "failures = :failures AND expires_at = :expires",
                "ExpressionAttributeValues": {
                    ":failures": {"N": str(previous.failures)},
                    ":expires": {"N": str(previous.expires_at)},
                },
            }
        try:
            self.call("put_item", Item=item, **condition)
        except ConditionFailed:
            return False
        return True

    def delete_failures(self, key: str) -> None:
        self.call("delete_item", Key={"user_id": {"S": FAILURES_PREFIX + key}})

    def mark(self, key: str, *, until: int) -> None:
        """Set a flag on ``key`` that lasts until ``until`` (epoch seconds)."""
        item = {"user_id": MARK_PREFIX + key, "item_type": "limit_mark", "expires_at": until}
        self.call("put_item", Item=to_item(item))

    def marked_until(self, key: str) -> int | None:
        """Until when ``key``'s flag lasts (perhaps past: TTL deletes only eventually)."""
        item = self.get_item({"user_id": {"S": MARK_PREFIX + key}}, consistent=True)
        return int(item["expires_at"]["N"]) if item is not None else None

    def take_turn(self, key: str, *, holder: str, now: int, until: int) -> bool:
        """Hold ``key``'s turn until ``until`` (epoch seconds) unless another holder's
        is held past ``now``; whether it was taken (one conditional write)."""
        item = to_item(
            {
                "user_id": TURN_PREFIX + key,
                "item_type": "turn",
                "holder": holder,
                "held_until": until,
                "expires_at": until + COUNTER_GRACE_SECONDS,
            }
        )
        try:
            self.call(
                "put_item",
                Item=item,
                ConditionExpression="attribute_not_exists(user_id) OR held_until < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ConditionFailed:
            return False
        return True

    def end_turn(self, key: str, *, holder: str) -> None:
        """Give ``key``'s turn back, if ``holder`` still holds it (it may have ended by
        itself and been taken by another)."""
        with contextlib.suppress(ConditionFailed):
            self.call(
                "delete_item",
                Key={"user_id": {"S": TURN_PREFIX + key}},
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )


@functools.cache
def limits_table() -> LimitsTable:
    return LimitsTable()
