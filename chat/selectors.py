"""Chat reads: sessions, a session's messages, and what the assistant may know of a person.

    page = list_sessions(user_id=u, limit=20, cursor=None)
    reads = exchange_reads(user=user, session_id=s)
    context = context_of(reads.user, reads.plan, reads.check_ins, plans_kept=reads.plans_kept)

Everything is read from the caller's own partitions; the user id comes from the token.
"""

from datetime import date, timedelta
from typing import NamedTuple

from django.conf import settings

from ai.chat import AnalysisSummary, ChatContext, ChatTurn, CheckInsSummary, PlanSummary
from dynamo.activity import recount_activity
from dynamo.base import Page, get_many
from dynamo.chat import ChatMessage, ChatSession, chat_table, open_session
from dynamo.codec import Item
from dynamo.errors import AccountClosed
from dynamo.plans import CheckIn, Plan, plans_table, utc_today
from dynamo.users import ACTIVITY_COUNTED, User, activity_key, stored_user, users_table
from plans.selectors import IRRITATION_SPAN_DAYS, adherence_of, recent_since
from plans.services import CHECK_IN_DAYS_AHEAD
from scans.selectors import latest_completed_scan

# The check-ins the assistant sees: those of the four weeks up to today, as the plan's
# own rising irritation looks at four weeks.
RECENT_CHECK_IN_DAYS = IRRITATION_SPAN_DAYS


def list_sessions(*, user_id: str, limit: int, cursor: str | None) -> Page[ChatSession]:
    """Newest first (by start), each with its title and last activity: one Query."""
    return chat_table().sessions_page(user_id, limit=limit, cursor=cursor)


def get_session(*, user_id: str, session_id: str) -> ChatSession | None:
    return chat_table().get_session(user_id, session_id)


def list_messages(
    *, user_id: str, session_id: str, limit: int, cursor: str | None, newest_first: bool = False
) -> Page[ChatMessage] | None:
    """A page of the session's messages; None when there is no such session.

    One Query on the session index (the first newest-first page also reads the session
    item). The first page proves the session exists; a later page's cursor is signed for
    this user, this session and this order, so it proves the same.
    """
    session, page = chat_table().session_messages(
        user_id, session_id, limit=limit, cursor=cursor, newest_first=newest_first
    )
    if cursor is None and session is None:
        return None
    return page


def recent_messages(*, user_id: str, session_id: str) -> list[ChatMessage]:
    """The session's latest CHAT_HISTORY_MESSAGES messages, oldest first (one Query)."""
    count = settings.CHAT_HISTORY_MESSAGES
    if count <= 0:
        return []
    page = chat_table().query_session(user_id, session_id, limit=count, newest_first=True)
    return list(reversed(page.items))


def as_turns(messages: list[ChatMessage]) -> list[ChatTurn]:
    return [ChatTurn(role=m.role, content=m.content) for m in messages]


class ExchangeReads(NamedTuple):
    session: ChatSession | None
    user: User
    plan: Plan | None
    check_ins: list[CheckIn]
    plans_kept: int  # the account's plans, active or not (its activity counts)


def exchange_reads(*, user: User, session_id: str) -> ExchangeReads:
    """What sending a message reads first, strongly consistent: the session (None when it
    is not there or being deleted), the account as stored (``AccountClosed`` once it is
    gone or being erased, as ``as_stored``), the active plan and its check-ins of the
    latest RECENT_CHECK_IN_DAYS, and how many plans the account has (so that a paused
    plan is not taken for none; ``kept_plans``).

    One BatchGetItem reads the session, the account, its activity counts and the
    active-plan pointer, and another the plan it names, if any, with those days'
    check-ins (their keys are the plan and the day).
    """
    session_item, user_item, activity, pointer = get_many(
        [
            (chat_table(), chat_table().session_item_key(user.user_id, session_id)),
            (users_table(), users_table().user_key(user.user_id)),
            (users_table(), activity_key(user.user_id)),
            (plans_table(), plans_table().active_pointer_key(user.user_id)),
        ],
        consistent=True,
    )
    stored = stored_user(user_item)
    if stored is None or stored.erasure_started_at is not None:
        raise AccountClosed()
    plans_kept = kept_plans(user.user_id, activity)
    session = open_session(session_item)
    if session is None:
        return ExchangeReads(None, stored, None, [], plans_kept)
    plan, check_ins = plans_table().get_active_with_check_ins(
        user.user_id, pointer, recent_days(utc_today())
    )
    return ExchangeReads(session, stored, plan, check_ins, plans_kept)


def kept_plans(user_id: str, activity: Item | None) -> int:
    """How many plans the account has, from its activity item when that can be trusted.

    An account older than the counts has no such item, or one that holds only what
    changed since (without ``counted``): it is counted in full once, here as an ops page
    would, and read with the rest from then on.
    """
    if activity is None or ACTIVITY_COUNTED not in activity:
        return recount_activity(user_id).plans
    return max(0, int(activity.get("plans", {"N": "0"})["N"]))


def recent_days(today: date) -> list[str]:
    """The days of the latest RECENT_CHECK_IN_DAYS, and those a check-in may be ahead."""
    first = today - timedelta(days=RECENT_CHECK_IN_DAYS - 1)
    count = RECENT_CHECK_IN_DAYS + CHECK_IN_DAYS_AHEAD
    return [(first + timedelta(days=n)).isoformat() for n in range(count)]


def check_ins_summary(plan: Plan, check_ins: list[CheckIn], today: date) -> CheckInsSummary:
    """The plan's check-ins from ``recent_since`` (the latest RECENT_CHECK_IN_DAYS, or
    from the day it was last taken up if later: days during a pause or before the plan
    say nothing of how it goes), judged as the plan's own adherence judges them."""
    first = recent_since(plan, today)
    adherence = adherence_of(
        [c for c in check_ins if date.fromisoformat(c.date) >= first], since=first
    )
    return CheckInsSummary(
        # A check-in may be dated tomorrow (the person's today, ahead of UTC).
        days=max((today - first).days + 1, adherence.check_ins),
        days_checked_in=adherence.check_ins,
        routines_done=adherence.routines_done,
        latest_irritation=adherence.latest_irritation,
        irritation_rising=adherence.irritation_rising,
    )


def context_of(
    user: User,
    plan: Plan | None,
    check_ins: list[CheckIn] | None = None,
    *,
    plans_kept: int = 0,
) -> ChatContext:
    """What the assistant may know of a person (read as stored, ``exchange_reads``): the
    profile (never name or email), the latest completed analysis and the active plan."""
    scan = latest_completed_scan(user_id=user.user_id)
    return ChatContext(
        skin_type=user.skin_type,
        skin_concerns=user.skin_concerns,
        sensitivities=user.sensitivities,
        allergies=user.allergies,
        age_range=user.age_range,
        pregnant_or_breastfeeding=user.pregnant_or_breastfeeding,
        analysis=(
            AnalysisSummary.from_scan(
                scan.analysis, scanned_at=scan.scanned_at, area=scan.area, notes=scan.notes
            )
            if scan is not None and scan.analysis
            else None
        ),
        plan=(
            PlanSummary.from_plan(
                plan.content,
                title=plan.title,
                started_at=plan.created_at,
                days_paused=plan.days_paused(),
                recent_check_ins=check_ins_summary(plan, check_ins or [], utc_today()),
            )
            if plan is not None
            else None
        ),
        plans_not_active=max(0, plans_kept - (1 if plan is not None else 0)),
    )
