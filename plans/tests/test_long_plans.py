"""A plan followed for a year: its adherence read through the API, at the cost of a week's.

The year of check-ins is written through the table manager (a request each would take
minutes), as the check-in endpoint writes them; everything is read back through the API.
"""

from datetime import UTC, datetime

import pytest

from dynamo.metrics import measure_dynamodb
from dynamo.plans import CheckIn, check_in_to_item, plans_table
from plans.tests.test_api import PLANS, days_ago, new_plan, same_account
from tests.at_once import at_once
from tests.seeding import put_items

A_YEAR = 365


@pytest.fixture(autouse=True)
def user_copy_kept(settings):
    """These tests count the DynamoDB calls of a read after seeding a year of check-ins,
    which can take longer than AUTH_USER_CACHE_SECONDS on a busy machine: the worker's
    copy of the user then expires and the read counts one GetItem more."""
    settings.AUTH_USER_CACHE_SECONDS = 600


NOTES = "Stung a little after the serum, then fine. " * 23  # about 1,000 characters


def user_id_of(client) -> str:
    return client.session_data["user"]["user_id"]


def check_in_on(user_id: str, plan_id: str, days_back: int, *, pm_done: bool) -> CheckIn:
    return CheckIn(
        user_id=user_id,
        plan_id=plan_id,
        date=days_ago(days_back),
        am_done=True,
        pm_done=pm_done,
        irritation=days_back % 3,
        notes=NOTES,
        created_at=datetime.now(UTC).isoformat(),
    )


def followed_for(client, days: int) -> dict:
    """A plan begun ``days`` ago with a check-in every day but every tenth, the evening
    routine done on two days of three; returns the plan as the API shows it."""
    plan = new_plan(client, began_days_ago=days)
    user_id = user_id_of(client)
    for days_back in range(days):
        if days_back % 10 != 5:
            check_in = check_in_on(user_id, plan["plan_id"], days_back, pm_done=days_back % 3 > 0)
            plans_table().put_check_in(check_in)
    return plan


def expected_adherence(days: int) -> tuple[int, int]:
    checked_in = [d for d in range(days) if d % 10 != 5]
    return len(checked_in), sum(1 + int(d % 3 > 0) for d in checked_in)


def test_a_plan_followed_for_a_year_is_read_at_the_cost_of_a_week(auth_client):
    week = followed_for(auth_client, 7)
    year = followed_for(auth_client, A_YEAR)  # the active plan now
    with measure_dynamodb() as week_read:
        assert auth_client.get(f"{PLANS}/{week['plan_id']}").status_code == 200
    with measure_dynamodb() as year_read:
        shown = auth_client.get(f"{PLANS}/{year['plan_id']}").json()
    with measure_dynamodb() as active_read:
        assert auth_client.get(f"{PLANS}/active").json() == shown

    days, routines = expected_adherence(A_YEAR)
    assert shown["adherence"] == {
        "check_ins": days,
        "routines_done": routines,
        "routines_planned": 2 * days,
        "rate": round(routines / (2 * days), 3),
        "irritation_rising": False,
        "latest_irritation": 0,
    }
    # The plan, and its latest four weeks of check-ins (about 1 kB each): a year of them
    # is 45 read units in 2 Queries.
    assert year_read.calls == week_read.calls == 2
    assert year_read.read_units <= 6
    assert active_read.calls == 3 and active_read.read_units <= 8


def test_replacing_a_day_counts_it_once_with_its_latest_routines(auth_client):
    plan = new_plan(auth_client, began_days_ago=3)
    url = f"{PLANS}/{plan['plan_id']}"
    day = {"date": days_ago(2), "am_done": True, "pm_done": True, "irritation": 1}
    # Both done, then each undone in turn, then the morning's done again: one routine.
    both = {"am_done": False, "pm_done": False}
    for changes in ({}, {"pm_done": False}, both, {"pm_done": False}):
        assert auth_client.post(f"{url}/check-ins", {**day, **changes}).status_code == 201
    other_day = {"date": days_ago(1), "am_done": True, "pm_done": True, "irritation": 2}
    assert auth_client.post(f"{url}/check-ins", other_day).status_code == 201

    adherence = auth_client.get(url).json()["adherence"]
    assert (adherence["check_ins"], adherence["routines_done"]) == (2, 3)
    assert adherence["latest_irritation"] == 2


def test_check_ins_sent_at_once_are_each_counted(auth_client):
    plan = new_plan(auth_client, began_days_ago=12)
    url = f"{PLANS}/{plan['plan_id']}/check-ins"
    days = iter(range(12))

    def check_in():
        day = {"date": days_ago(next(days)), "am_done": True, "pm_done": False, "irritation": 0}
        return same_account(auth_client).post(url, day).status_code

    assert at_once(check_in, threads=12) == [201] * 12
    adherence = auth_client.get(f"{PLANS}/{plan['plan_id']}").json()["adherence"]
    assert (adherence["check_ins"], adherence["routines_done"]) == (12, 12)


def test_the_same_day_sent_at_once_is_counted_once(auth_client):
    plan = new_plan(auth_client, began_days_ago=1)
    url = f"{PLANS}/{plan['plan_id']}/check-ins"
    done = iter([True, False] * 4)

    def check_in():
        day = {"date": days_ago(1), "am_done": True, "pm_done": next(done), "irritation": 0}
        return same_account(auth_client).post(url, day).status_code

    assert at_once(check_in, threads=8) == [201] * 8
    stored = auth_client.get(url).json()["items"]
    adherence = auth_client.get(f"{PLANS}/{plan['plan_id']}").json()["adherence"]
    assert adherence["check_ins"] == 1
    assert adherence["routines_done"] == 1 + int(stored[0]["pm_done"])


def test_a_plan_stored_before_its_check_ins_were_counted_is_counted_whole(auth_client):
    plan = new_plan(auth_client, began_days_ago=40)
    user_id = user_id_of(auth_client)
    # As stored before: no counts on the plan, its check-ins written alone.
    key = plans_table().key(user_id, plan["plan_id"])
    plans_table().call(
        "update_item", Key=key, UpdateExpression="REMOVE days_checked_in, routines_done"
    )
    earlier = [check_in_on(user_id, plan["plan_id"], d, pm_done=d % 2 == 0) for d in range(30)]
    put_items(plans_table().definition, [check_in_to_item(c) for c in earlier])
    url = f"{PLANS}/{plan['plan_id']}"
    assert auth_client.get(url).json()["adherence"]["routines_done"] == 30 + 15

    # A day replaced (its evening now done) and a new one.
    replaced = {"date": days_ago(1), "am_done": True, "pm_done": True, "irritation": 0}
    added = {"date": days_ago(35), "am_done": False, "pm_done": False, "irritation": 0}
    for day in (replaced, added):
        assert auth_client.post(f"{url}/check-ins", day).status_code == 201

    adherence = auth_client.get(url).json()["adherence"]
    assert (adherence["check_ins"], adherence["routines_done"]) == (31, 30 + 16)
    stored = plans_table().get(user_id, plan["plan_id"], consistent=True)
    assert (stored.days_checked_in, stored.routines_done) == (31, 46)


def test_a_year_of_a_plan_stored_before_its_check_ins_were_counted_is_read_whole_once(
    auth_client,
):
    plan = new_plan(auth_client, began_days_ago=A_YEAR)
    user_id = user_id_of(auth_client)
    key = plans_table().key(user_id, plan["plan_id"])
    plans_table().call(
        "update_item", Key=key, UpdateExpression="REMOVE days_checked_in, routines_done"
    )
    year = [check_in_on(user_id, plan["plan_id"], d, pm_done=d % 3 > 0) for d in range(A_YEAR)]
    put_items(plans_table().definition, [check_in_to_item(c) for c in year])
    new_plan(auth_client)  # the year's plan is set aside: no check-in will count it
    url = f"{PLANS}/{plan['plan_id']}"

    first = auth_client.get(url).json()
    with measure_dynamodb() as usage:
        again = auth_client.get(url).json()

    routines = sum(1 + int(d % 3 > 0) for d in range(A_YEAR))
    assert first == again
    assert (again["adherence"]["check_ins"], again["adherence"]["routines_done"]) == (
        A_YEAR,
        routines,
    )
    # Read at the cost of a counted plan: the plan and the latest four weeks' Query.
    assert usage.calls == 2
    stored = plans_table().get(user_id, plan["plan_id"], consistent=True)
    assert (stored.days_checked_in, stored.routines_done) == (A_YEAR, routines)


def test_a_month_of_a_year_long_plan_is_listed_in_one_page(auth_client):
    plan = followed_for(auth_client, A_YEAR)
    url = f"{PLANS}/{plan['plan_id']}/check-ins"
    first, last = days_ago(220), days_ago(190)
    with measure_dynamodb() as usage:
        response = auth_client.get(url, {"from": first, "to": last, "limit": 100})
    assert response.status_code == 200, response.content
    listed = response.json()
    expected = [days_ago(d) for d in range(190, 221) if d % 10 != 5]
    assert [c["date"] for c in listed["items"]] == expected
    assert listed["next_cursor"] is None
    assert usage.calls == 2  # the plan, and one Query of the month


def test_a_range_pages_by_its_own_cursor(auth_client):
    plan = followed_for(auth_client, 40)
    url = f"{PLANS}/{plan['plan_id']}/check-ins"
    week = {"from": days_ago(30), "to": days_ago(24)}
    page = auth_client.get(url, {**week, "limit": 4}).json()
    rest = auth_client.get(url, {**week, "limit": 4, "cursor": page["next_cursor"]}).json()
    dates = [c["date"] for c in page["items"] + rest["items"]]
    assert dates == [days_ago(d) for d in range(24, 31) if d % 10 != 5]
    # A cursor of one range does not page through another.
    other = auth_client.get(url, {"from": days_ago(10), "cursor": page["next_cursor"]})
    assert other.status_code == 400


def test_a_range_that_ends_before_it_begins_is_400(auth_client):
    plan = new_plan(auth_client)
    response = auth_client.get(
        f"{PLANS}/{plan['plan_id']}/check-ins", {"from": days_ago(1), "to": days_ago(3)}
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"to"}
