"""Plan reads: lists, one plan, the active plan, check-ins and adherence."""

from dataclasses import dataclass
from datetime import date

from dynamo.base import Page
from dynamo.plans import CheckIn, Plan, plans_table

# Irritation is "rising" when the mean of the latest three check-ins is this much
# above the mean of the three before them (on the 0-5 scale), among the check-ins of the
# four weeks up to the latest: months-old days say nothing of how the skin is doing now.
IRRITATION_RISE_THRESHOLD = 1.0
IRRITATION_WINDOW_DAYS = 3
IRRITATION_SPAN_DAYS = 28


def list_plans(*, user_id: str, limit: int, cursor: str | None) -> Page[Plan]:
    return plans_table().query_page(user_id, limit=limit, cursor=cursor)


def get_plan(*, user_id: str, plan_id: str) -> Plan | None:
    return plans_table().get(user_id, plan_id)


def get_active_plan(*, user_id: str) -> Plan | None:
    return plans_table().get_active(user_id)


def list_check_ins(*, user_id: str, plan_id: str, limit: int, cursor: str | None) -> Page[CheckIn]:
    return plans_table().check_ins_page(user_id, plan_id, limit=limit, cursor=cursor)


@dataclass(frozen=True)
class Adherence:
    check_ins: int
    routines_done: int
    routines_planned: int
    rate: float | None  # share of AM and PM routines done, over the days checked in
    irritation_rising: bool
    latest_irritation: int | None


def plan_adherence(*, user_id: str, plan_id: str) -> Adherence:
    return adherence_of(plans_table().all_check_ins(user_id, plan_id))


def adherence_of(check_ins: list[CheckIn]) -> Adherence:
    """A plan's adherence from its check-ins (any order); none yet for a new plan."""
    check_ins = sorted(check_ins, key=lambda c: c.date)
    done = sum(int(c.am_done) + int(c.pm_done) for c in check_ins)
    planned = 2 * len(check_ins)
    return Adherence(
        check_ins=len(check_ins),
        routines_done=done,
        routines_planned=planned,
        rate=round(done / planned, 3) if planned else None,
        irritation_rising=irritation_rising([c.irritation for c in recent(check_ins)]),
        latest_irritation=check_ins[-1].irritation if check_ins else None,
    )


def recent(check_ins: list[CheckIn]) -> list[CheckIn]:
    """The check-ins (oldest first) of the IRRITATION_SPAN_DAYS up to the latest one."""
    if not check_ins:
        return []
    latest = date.fromisoformat(check_ins[-1].date)
    # Days apart, not a start day: the latest minus 27 days is before year 1 for a
    # check-in dated in its first weeks (any past date is taken).
    return [
        c for c in check_ins if (latest - date.fromisoformat(c.date)).days < IRRITATION_SPAN_DAYS
    ]


def irritation_rising(levels: list[int]) -> bool:
    """Oldest first. True when the recent days are clearly worse than the days before."""
    window = IRRITATION_WINDOW_DAYS
    if len(levels) < 2 * window:
        return len(levels) >= 2 and levels[-1] - levels[0] >= 2 and levels[-1] >= 3
    # Sums of whole levels, not means: 8/3 - 5/3 is 0.999... in floating point.
    rise = sum(levels[-window:]) - sum(levels[-2 * window : -window])
    return rise >= IRRITATION_RISE_THRESHOLD * window
