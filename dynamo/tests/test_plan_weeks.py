"""A plan's weeks count the days it was followed, against DynamoDB Local: a pause, a
plan set aside for another, and both over months."""

from datetime import date

import pytest

from dynamo.client import get_client
from dynamo.errors import VersionConflict
from dynamo.plans import Plan, plans_table
from dynamo.tests.factories import a_plan, new_user_id

BEGAN = "2026-06-01T09:00:00.000Z"


def at(day: str) -> str:
    return f"{day}T12:00:00.000Z"


def begun(user_id: str, *, created_at: str = BEGAN) -> Plan:
    plan = a_plan(
        user_id,
        created_at=created_at,
        updated_at=created_at,
        content={"duration_weeks": 12, "am": [], "pm": []},
    )
    return plans_table().activate(user_id, new_plan=plan, updated_at=created_at)


def pause(plan: Plan, day: str) -> Plan:
    return set_status(plan, "paused", day)


def complete(plan: Plan, day: str) -> Plan:
    return set_status(plan, "completed", day)


def set_status(plan: Plan, status: str, day: str) -> Plan:
    return plans_table().set_status(
        plan.user_id,
        plan.plan_id,
        status=status,
        expected_version=plan.version,
        updated_at=at(day),
    )


def resume(plan: Plan, day: str) -> Plan:
    return plans_table().activate(
        plan.user_id, plan_id=plan.plan_id, expected_version=plan.version, updated_at=at(day)
    )


def paused_as_before(plan: Plan, day: str) -> Plan:
    """Pause the plan as the code before these days were recorded wrote it (status and
    updated_at changed, nothing else); the plan as stored then."""
    get_client().update_item(
        TableName=plans_table().name,
        Key=plans_table().key(plan.user_id, plan.plan_id),
        UpdateExpression="SET #status = :paused, updated_at = :then REMOVE inactive_days",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":paused": {"S": "paused"}, ":then": {"S": at(day)}},
    )
    return plans_table().get(plan.user_id, plan.plan_id, consistent=True)


def test_a_new_plan_is_in_its_first_week_for_seven_days_then_its_second():
    plan = begun(new_user_id())
    assert plan.days_followed(date(2026, 6, 1)) == 1
    assert plan.current_week(date(2026, 6, 7)) == 1
    assert plan.current_week(date(2026, 6, 8)) == 2
    assert plan.days_paused(date(2026, 6, 30)) == 0


def test_a_month_paused_is_not_counted_and_the_plan_goes_on_from_its_week():
    plan = begun(new_user_id())
    assert plan.days_followed(date(2026, 6, 15)) == 15
    plan = pause(plan, "2026-06-15")  # followed that day too: days 1-15, week 3
    assert plan.status == "paused"
    assert plan.days_followed(date(2026, 6, 15)) == 15  # pausing takes no day back
    assert plan.current_week(date(2026, 7, 20)) == 3  # stays in the week it stopped in
    assert plan.days_paused(date(2026, 7, 20)) == 35
    resumed = resume(plan, "2026-07-15")  # the 29 days between away
    assert resumed.status == "active" and resumed.inactive_since is None
    assert resumed.inactive_days == 29
    assert resumed.active_since == at("2026-07-15")
    stored = plans_table().get(plan.user_id, plan.plan_id, consistent=True)
    assert stored == resumed
    # 2026-07-21 is the 51st day since it began, 22 of them followed: week 4, not week 8.
    assert stored.days_followed(date(2026, 7, 21)) == 22
    assert stored.current_week(date(2026, 7, 21)) == 4
    assert stored.days_paused(date(2026, 7, 21)) == 29


def test_pauses_over_months_add_up():
    plan = begun(new_user_id())
    for paused_on, resumed_on in [
        ("2026-06-10", "2026-06-20"),  # 10 days
        ("2026-07-01", "2026-07-01"),  # paused and taken up the same day: none
        ("2026-08-01", "2026-09-01"),  # 31 days
    ]:
        plan = resume(pause(plan, paused_on), resumed_on)
    assert plan.inactive_days == 9 + 0 + 30  # the days between each pause and resume
    # 2026-11-30 is the 183rd day since it began, 144 of them followed.
    assert plan.days_followed(date(2026, 11, 30)) == 144
    assert plan.current_week(date(2026, 11, 30)) == 21


def test_a_plan_set_aside_for_another_counts_only_its_own_days():
    user_id = new_user_id()
    first = begun(user_id)
    second = begun(user_id, created_at=at("2026-06-22"))  # the first is archived
    archived = plans_table().get(user_id, first.plan_id, consistent=True)
    assert archived.status == "archived"
    assert archived.inactive_since == at("2026-06-22")
    assert archived.days_followed(date(2026, 9, 1)) == 22  # to the day it was set aside
    back = resume(archived, "2026-07-06")
    assert back.inactive_days == 13
    assert back.days_followed(date(2026, 7, 6)) == 23
    assert back.current_week(date(2026, 7, 6)) == 4
    second = plans_table().get(user_id, second.plan_id, consistent=True)
    assert second.status == "archived" and second.inactive_since == at("2026-07-06")
    assert second.days_followed(date(2026, 12, 1)) == 15


def test_a_plan_paused_then_completed_stopped_when_it_was_paused():
    completed = complete(pause(begun(new_user_id()), "2026-06-15"), "2026-08-01")
    assert completed.inactive_since == at("2026-06-15")
    assert completed.days_followed(date(2026, 12, 1)) == 15


def test_a_plan_stored_before_pauses_were_recorded_stopped_at_its_last_change():
    stored = paused_as_before(begun(new_user_id()), "2026-06-29")
    assert stored.inactive_since == at("2026-06-29") and stored.inactive_days == 0
    assert stored.days_followed(date(2026, 10, 1)) == 29
    resumed = resume(stored, "2026-07-09")
    assert resumed.inactive_days == 9
    assert resumed.days_followed(date(2026, 7, 9)) == 30
    assert resumed.current_week(date(2026, 7, 9)) == 5


def test_a_plan_stored_before_pauses_were_recorded_keeps_when_it_stopped_when_completed():
    completed = complete(paused_as_before(begun(new_user_id()), "2026-06-29"), "2026-09-01")
    assert completed.inactive_since == at("2026-06-29")  # not the day it was completed
    assert completed.days_followed(date(2026, 12, 1)) == 29


@pytest.mark.parametrize("pause_on, resume_on", [(0, 0), (0, 1), (3, 4), (3, 40), (10, 11)])
def test_days_followed_and_days_paused_add_up_to_the_days_since_it_began(pause_on, resume_on):
    began = date(2026, 6, 1)
    plan = begun(new_user_id())

    def day(offset: int) -> str:
        return date.fromordinal(began.toordinal() + offset).isoformat()

    def days_since_it_began(offset: int) -> int:
        return offset + 1

    for offset in sorted({pause_on, pause_on + 1, resume_on, resume_on + 3}):
        today = date.fromisoformat(day(offset))
        if offset == pause_on:
            before = plan.days_followed(today)
            plan = pause(plan, day(pause_on))
            assert plan.days_followed(today) == before  # no day taken back
        if offset == resume_on:
            plan = resume(plan, day(resume_on))
        total = plan.days_followed(today) + plan.days_paused(today)
        assert total == days_since_it_began(offset), (offset, plan)


def test_a_resume_at_a_stale_version_is_refused_and_changes_nothing():
    plan = pause(begun(new_user_id()), "2026-06-15")
    with pytest.raises(VersionConflict) as conflict:
        plans_table().activate(
            plan.user_id, plan_id=plan.plan_id, expected_version=1, updated_at=at("2026-07-01")
        )
    assert conflict.value.current_version == plan.version
    assert plans_table().get(plan.user_id, plan.plan_id, consistent=True) == plan
