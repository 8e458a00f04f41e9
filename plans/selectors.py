"""Plan reads: lists, one plan, the active plan, check-ins and adherence."""

from dataclasses import dataclass
from datetime import date, timedelta

from dynamo.base import Page
from dynamo.plans import CheckIn, Plan, plans_table, routines_of, utc_today
from plans.services import CHECK_IN_DAYS_AHEAD

# Irritation is "rising" when the sum of the latest three check-ins' levels is three
# levels (a mean of one) above the sum of the three before them (on the 0-5 scale), among
# the check-ins of the four weeks up to today, or since the plan was last taken up if
# later: months-old days, and those of a pause, say nothing of how the skin is doing now.
IRRITATION_RISE_THRESHOLD = 1.0
IRRITATION_WINDOW_DAYS = 3
IRRITATION_SPAN_DAYS = 28


def list_plans(*, user_id: str, limit: int, cursor: str | None) -> Page[Plan]:
    return plans_table().query_page(user_id, limit=limit, cursor=cursor)


def get_plan(*, user_id: str, plan_id: str) -> Plan | None:
    return plans_table().get(user_id, plan_id)


def get_active_plan(*, user_id: str) -> Plan | None:
    return plans_table().get_active(user_id)


def list_check_ins(
    *,
    user_id: str,
    plan_id: str,
    limit: int,
    cursor: str | None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Page[CheckIn]:
    """Newest day first, one Query (of the days from ``date_from`` to ``date_to``)."""
    return plans_table().check_ins_page(
        user_id,
        plan_id,
        limit=limit,
        cursor=cursor,
        day_from=date_from.isoformat() if date_from else None,
        day_to=date_to.isoformat() if date_to else None,
    )


@dataclass(frozen=True)
class Adherence:
    check_ins: int
    routines_done: int
    routines_planned: int
    rate: float | None  # share of AM and PM routines done, over the days checked in
    irritation_rising: bool
    latest_irritation: int | None


def plan_adherence(*, plan: Plan, today: date | None = None) -> Adherence:
    """The plan's adherence from the counts it carries and its recent check-ins: one
    Query of the days from ``recent_since`` (at most one check-in a day), however long it
    has run. A plan stored before it was counted is read whole once, and counted
    (``PlansTable.counted``)."""
    since = recent_since(plan, today or utc_today())
    plans = plans_table()
    counts = plans.counted(plan)
    recent = plans.check_ins_page(
        plan.user_id,
        plan.plan_id,
        limit=IRRITATION_SPAN_DAYS + CHECK_IN_DAYS_AHEAD,
        day_from=since.isoformat(),
    )
    return adherence_from(
        days_checked_in=counts.days_checked_in or 0,
        routines_done=counts.routines_done or 0,
        recent=sorted(recent.items, key=lambda c: c.date),
    )


def recent_since(plan: Plan, today: date) -> date:
    """The first day whose check-ins tell how the plan goes now: that of the latest
    IRRITATION_SPAN_DAYS up to ``today``, or the day the plan was last taken up (created,
    or made active again after a pause) if that is later."""
    return max(today - timedelta(days=IRRITATION_SPAN_DAYS - 1), plan.followed_since())


def adherence_of(check_ins: list[CheckIn], *, since: date) -> Adherence:
    """A plan's adherence from its check-ins (any order), its irritation from those dated
    on or after ``since`` (``recent_since``); none yet for a new plan."""
    check_ins = sorted(check_ins, key=lambda c: c.date)
    return adherence_from(
        days_checked_in=len(check_ins),
        routines_done=sum(routines_of(c) for c in check_ins),
        recent=[c for c in check_ins if date.fromisoformat(c.date) >= since],
    )


def adherence_from(*, days_checked_in: int, routines_done: int, recent: list[CheckIn]) -> Adherence:
    """Adherence from the counts of the days checked in and the routines done on them,
    and (oldest first) the check-ins from ``recent_since``: with none of those, there is
    no latest irritation to tell and none rising."""
    planned = 2 * days_checked_in
    return Adherence(
        check_ins=days_checked_in,
        routines_done=routines_done,
        routines_planned=planned,
        rate=round(routines_done / planned, 3) if planned else None,
        irritation_rising=irritation_rising([c.irritation for c in recent]),
        latest_irritation=recent[-1].irritation if recent else None,
    )


def irritation_rising(levels: list[int]) -> bool:
    """Oldest first. True when the recent days are clearly worse than the days before."""
    window = IRRITATION_WINDOW_DAYS
    if len(levels) < 2 * window:
        return len(levels) >= 2 and levels[-1] - levels[0] >= 2 and levels[-1] >= 3
    # Sums of whole levels, not means: 8/3 - 5/3 is 0.999... in floating point.
    rise = sum(levels[-window:]) - sum(levels[-2 * window : -window])
    return rise >= IRRITATION_RISE_THRESHOLD * window
