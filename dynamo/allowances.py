"""A user's daily allowances of AI work, counted per UTC day in the users table.

    if not ANALYSES.consume(user_id): ...       # past AI_ANALYSES_PER_DAY: nothing counted
    transact([..., {"Update": REPLIES.update(user_id)}])   # counted with what it pays for
    PLAN_DRAFTS.give_back(user_id)              # a use that gave nothing (best effort)

A count is one conditioned update of the item ``quota#<name>#<user_id>#<day>``
(``dynamo.users.daily_quota_update``): concurrent requests on any number of hosts cannot
pass the limit. The item is kept two days past its day (DynamoDB's TTL removes it); the
erasure deletes the recent counters of every allowance named here
(``dynamo.partitions``).
"""

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from dynamo.errors import DynamoError
from dynamo.users import daily_quota_update, users_table

logger = logging.getLogger(__name__)

# A day's counter outlives its day by this much, then expires.
KEPT_SECONDS = 2 * 24 * 60 * 60


@dataclass(frozen=True)
class DailyAllowance:
    name: str
    # The setting that holds the uses allowed a day (read at each use: tests change it).
    limit_setting: str

    @property
    def limit(self) -> int:
        return int(getattr(settings, self.limit_setting))

    def today(self) -> dict[str, Any]:
        """Today's (UTC) counter, as ``daily_quota_update`` takes it."""
        return {
            "name": self.name,
            "day": datetime.now(UTC).date().isoformat(),
            "limit": self.limit,
            "expires_at": int(time.time()) + KEPT_SECONDS,
        }

    def consume(self, user_id: str) -> bool:
        """Count one use today; False (and nothing counted) once the limit is reached."""
        return users_table().consume_daily_quota(user_id, **self.today())

    def update(self, user_id: str) -> dict[str, Any]:
        """The Update that counts one use today, for the transaction storing what it pays
        for (its condition fails once the limit is reached)."""
        return daily_quota_update(user_id, **self.today())

    def give_back(self, user_id: str) -> None:
        """Uncount one use of today's (the AI gave nothing for it); best effort: a failure
        is logged, and the answer already decided stands."""
        try:
            users_table().give_back_daily_quota(user_id, name=self.name, day=self.today()["day"])
        except DynamoError:
            logger.warning(
                "a use of a daily allowance was not given back",
                extra={"allowance": self.name},
                exc_info=True,
            )


ANALYSES = DailyAllowance("analysis", "AI_ANALYSES_PER_DAY")
REPLIES = DailyAllowance("chat", "AI_REPLIES_PER_DAY")
PLAN_DRAFTS = DailyAllowance("plan_draft", "AI_PLAN_DRAFTS_PER_DAY")
DAILY_ALLOWANCES = (ANALYSES, REPLIES, PLAN_DRAFTS)


def seconds_until_reset() -> int:
    """Seconds until the allowances start again (midnight UTC), at least 1."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return max(1, int((midnight - now).total_seconds()))
