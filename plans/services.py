"""Plan use cases that write: create (and activate), change status, delete, check in.

    plan = create_plan(user=user, scan_id=None)   # from the latest analysed scan

The rule engine chooses the actives and a safety check passes every plan before it is
stored, whichever provider drafted it (``plans.drafting``). Gemini drafts at most
AI_PLAN_DRAFTS_PER_DAY of a person's plans a day (UTC); past them the rules draft the
plan alone, noted ``assistant_quota_reached``. One plan is active at a time: activation
archives the previous one in the same transaction.
"""

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from django.utils.crypto import salted_hmac
from rest_framework import serializers
from ulid import ULID

from accounts.selectors import as_stored, skin_profile_of
from ai.analysis import now_iso
from ai.providers import get_provider
from dermalens_site.errors import Conflict, IdempotencyKeyInFlight, IdempotencyKeyReused, NotFound
from dynamo import request_keys
from dynamo.allowances import PLAN_DRAFTS
from dynamo.errors import ItemNotFound
from dynamo.plans import CheckIn, CheckInAfterPlanStopped, CheckInBeforePlan, Plan, plans_table
from dynamo.request_keys import KeyAnswered, RequestKey
from dynamo.users import User
from jobs.services import enqueue
from plans import tasks
from plans.drafting import ASSISTANT_UNAVAILABLE_NOTE, draft_treatment_plan, drafts_plans
from scans.selectors import get_scan, latest_completed_scan

PLAN_STATUSES = ("active", "paused", "completed", "archived")
# The Idempotency-Keys of plan requests (``dynamo.request_keys``).
PLAN_KEYS = "plan"
SETTABLE_STATUSES = ("active", "paused", "completed")
# Check-ins may be dated a day ahead of UTC, for people east of Greenwich.
CHECK_IN_DAYS_AHEAD = 1


class PlanNotFound(NotFound):
    default_message = "Plan not found."


class ScanNotAnalysed(Conflict):
    default_code = "scan_not_analysed"
    default_message = "That scan has no completed analysis to build a plan from."


class PlanKeyReused(IdempotencyKeyReused):
    default_message = (
        "This Idempotency-Key was sent with another plan request (another scan); a new "
        "plan needs a new key."
    )


class PlanKeyInFlight(IdempotencyKeyInFlight):
    default_message = (
        "The plan requested with this Idempotency-Key is still being drafted; send the "
        "request again shortly to get it."
    )


class PlanKeyPlanDeleted(Conflict):
    default_code = "idempotency_key_plan_deleted"
    default_message = (
        "The plan first made with this Idempotency-Key has been deleted since; a new plan "
        "needs a new key."
    )


def create_plan_once(
    *,
    user: User,
    scan_id: str | None = None,
    user_read_now: bool = False,
    idempotency_key: str | None = None,
) -> tuple[Plan, bool]:
    """``create_plan``, once per Idempotency-Key: (the plan, whether it was made now).

    The key is claimed before the plan is drafted, so copies sent together draft once
    (the others are a 409 while it drafts); the plan is recorded on it in the plan's own
    transaction, so a retry after a lost answer gets that plan, not a second one that
    would archive it. A failed attempt lets the key go: a retry drafts again.
    """
    if idempotency_key is None:
        return create_plan(user=user, scan_id=scan_id, user_read_now=user_read_now), True
    earlier, key = keyed_plan(user.user_id, idempotency_key, scan_id)
    if earlier is not None:
        return earlier, False
    try:
        plan = create_plan(user=user, scan_id=scan_id, user_read_now=user_read_now, answering=key)
    except KeyAnswered:
        # An attempt whose hold had lapsed stored its plan first: that one is the answer.
        answered, _ = keyed_plan(user.user_id, idempotency_key, scan_id)
        if answered is None:
            raise PlanKeyInFlight() from None
        return answered, False
    except BaseException:
        request_keys.let_go(key)
        raise
    return plan, True


def plan_digest(scan_id: str | None) -> str:
    """What a plan request sent (the scan it is built from, or none: the latest)."""
    return salted_hmac("dermalens.plans.request-key", scan_id or "").hexdigest()


def keyed_plan(
    user_id: str, idempotency_key: str, scan_id: str | None
) -> tuple[Plan | None, RequestKey | None]:
    """(the plan the key already has, None) for a replay, or (None, the key held for
    this attempt); a 422 for a key sent with another scan, a 409 while it drafts."""
    now = int(time.time())
    until = now + request_keys.hold_seconds()
    digest = plan_digest(scan_id)
    fresh = RequestKey(
        user_id=user_id,
        kind=PLAN_KEYS,
        key=idempotency_key,
        request_digest=digest,
        held_until=until,
    )
    if request_keys.claim_key(fresh, now=now):
        return None, fresh
    stored = request_keys.find_key(user_id, PLAN_KEYS, idempotency_key)
    if stored is None:
        raise PlanKeyInFlight()  # expired just now: the retry claims it afresh
    if stored.request_digest != digest:
        raise PlanKeyReused()
    if stored.result_id is not None:
        plan = plans_table().get(user_id, stored.result_id, consistent=True)
        if plan is None:
            raise PlanKeyPlanDeleted()
        return plan, None
    if not request_keys.hold_key(stored, now=now, until=until):
        raise PlanKeyInFlight()
    return None, replace(stored, held_until=until)


def create_plan(
    *,
    user: User,
    scan_id: str | None = None,
    user_read_now: bool = False,
    answering: RequestKey | None = None,
) -> Plan:
    """Draft a plan from the analysis and the profile as stored (``user_read_now``: ``user``
    was read strongly consistent in this request: ``as_stored``), and make it active
    (recorded as ``answering``'s plan, in the same transaction)."""
    if scan_id is not None:
        scan = get_scan(user_id=user.user_id, scan_id=scan_id)
        if scan is None:
            raise NotFound("Scan not found.")
        if scan.status != "complete" or not scan.analysis:
            raise ScanNotAnalysed()
    else:
        scan = latest_completed_scan(user_id=user.user_id)
    profile = skin_profile_of(as_stored(user, read_now=user_read_now))
    provider = get_provider()
    # A draft by the assistant is counted before it is asked for, so that concurrent
    # requests cannot all reach it past the day's allowance.
    counted = drafts_plans(provider) and PLAN_DRAFTS.consume(user.user_id)
    content = draft_treatment_plan(
        analysis=scan.analysis if scan else None,
        profile=profile,
        provider=provider,
        provider_allowed=counted,
    )
    if counted and content.get("drafting_note") == ASSISTANT_UNAVAILABLE_NOTE:
        PLAN_DRAFTS.give_back(user.user_id)
        counted = False
    timestamp = now_iso()
    plan = Plan(
        user_id=user.user_id,
        plan_id=str(ULID()),
        status="active",
        title=content["title"],
        created_at=timestamp,
        updated_at=timestamp,
        content=content,
        scan_id=scan.scan_id if scan else None,
    )
    try:
        return plans_table().activate(
            user.user_id, new_plan=plan, updated_at=timestamp, answering=answering
        )
    except BaseException:
        # Not stored (DynamoDB down, the account closed, another attempt of the same
        # Idempotency-Key first): the draft it counted is not spent.
        if counted:
            PLAN_DRAFTS.give_back(user.user_id)
        raise


def change_plan_status(*, user_id: str, plan_id: str, status: str, version: int) -> Plan:
    """Set a plan's status at the version the client last saw (a stale one is a 409)."""
    plans = plans_table()
    try:
        if status == "active":
            return plans.activate(
                user_id, plan_id=plan_id, expected_version=version, updated_at=now_iso()
            )
        return plans.set_status(
            user_id, plan_id, status=status, expected_version=version, updated_at=now_iso()
        )
    except ItemNotFound as err:
        raise PlanNotFound() from err


def delete_plan(*, user_id: str, plan_id: str) -> None:
    """Delete the plan (and the active-plan pointer when it named it) now, and its
    check-ins, one a day for as long as it was followed, in a job.

    The plan is gone for the person at once, and its check-ins with it: none can be read
    or written once the plan is not stored (``PlansTable.delete``). Deleting a plan that
    is gone is a 404 that starts the job again if an earlier one left check-ins (it
    failed, or the queue refused it).
    """
    plans = plans_table()
    try:
        plans.delete(user_id, plan_id)
    except ItemNotFound as err:
        if plans.has_check_ins(user_id, plan_id):
            enqueue(tasks.delete_check_ins, user_id=user_id, plan_id=plan_id)
        raise PlanNotFound() from err
    enqueue(tasks.delete_check_ins, user_id=user_id, plan_id=plan_id)


def latest_check_in_day() -> date:
    return datetime.now(UTC).date() + timedelta(days=CHECK_IN_DAYS_AHEAD)


def check_in(
    *,
    user_id: str,
    plan_id: str,
    day: date,
    am_done: bool,
    pm_done: bool,
    irritation: int,
    notes: str | None,
) -> CheckIn:
    """Record the day's routines; a second check-in on the same day replaces the first.
    A plan that is not active takes check-ins of the days up to the one after it stopped."""
    entry = CheckIn(
        user_id=user_id,
        plan_id=plan_id,
        date=day.isoformat(),
        am_done=am_done,
        pm_done=pm_done,
        irritation=irritation,
        notes=notes or None,
        created_at=now_iso(),
    )
    try:
        plans_table().put_check_in(entry)
    except ItemNotFound as err:
        raise PlanNotFound() from err
    except CheckInBeforePlan as err:
        earliest = err.earliest_day.isoformat()
        raise serializers.ValidationError(
            {"date": [f"A check-in of this plan cannot be dated before {earliest}."]}
        ) from err
    except CheckInAfterPlanStopped as err:
        latest = err.latest_day.isoformat()
        raise serializers.ValidationError(
            {
                "date": [
                    f"This plan is {err.status}: a check-in of it cannot be dated after "
                    f"{latest}. Make it active again to check in."
                ]
            }
        ) from err
    return entry
