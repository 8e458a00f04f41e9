"""Plan and check-in endpoints through the HTTP API, against DynamoDB Local."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.services import now_iso
from dynamo.client import get_client
from dynamo.errors import Unavailable
from dynamo.metrics import measure_dynamodb
from dynamo.plans import ACTIVE_POINTER, CheckIn, plans_table
from dynamo.users import users_table
from scans.tests.conftest import SAMPLE_FACE
from tests.at_once import at_once

PLANS = "/api/v1/plans"


def error_code(response) -> str:
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]["code"]


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def days_ago(days: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()


def backdate(user_id: str, plan_id: str, **timestamps: str) -> None:
    """Set a stored plan's timestamps (dates, at noon UTC), as time passing would."""
    names = sorted(timestamps)
    get_client().update_item(
        TableName=plans_table().name,
        Key=plans_table().key(user_id, plan_id),
        UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in names),
        ExpressionAttributeValues={
            f":{name}": {"S": f"{timestamps[name]}T12:00:00.000Z"} for name in names
        },
    )


def same_account(client) -> APIClient:
    """A client of its own (one per thread) signed in as ``client``'s account."""
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {client.session_data['access']}")
    return other


def scanned(client) -> dict:
    image = SimpleUploadedFile("face.jpg", SAMPLE_FACE.read_bytes(), content_type="image/jpeg")
    response = client.post("/api/v1/scans", {"image": image}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def other_client(register) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")
    return client


class TestCreate:
    def test_a_plan_is_built_from_the_latest_analysis_and_made_active(self, auth_client):
        scan = scanned(auth_client)
        response = auth_client.post(PLANS, {})
        assert response.status_code == 201, response.content
        plan = response.json()
        assert plan["status"] == "active"
        assert plan["scan_id"] == scan["scan_id"]
        assert plan["am"] and plan["pm"]
        assert plan["am"][-1]["category"] == "sunscreen"
        assert plan["duration_weeks"] >= 2
        assert plan["provider"] == "offline"
        for goal in plan["goals"]:
            baseline = scan["analysis"]["metrics"][goal["metric"]]["score"]
            assert goal["baseline"] == pytest.approx(baseline)
        assert auth_client.get(f"{PLANS}/active").json()["plan_id"] == plan["plan_id"]

    def test_a_plan_without_any_scan_is_a_gentle_basic_routine(self, auth_client):
        response = auth_client.post(PLANS, {})
        assert response.status_code == 201
        assert response.json()["scan_id"] is None
        assert response.json()["am"][-1]["category"] == "sunscreen"

    def test_a_pregnant_user_never_gets_a_retinoid(self, auth_client):
        auth_client.patch(
            "/api/v1/users/me",
            {"pregnant_or_breastfeeding": True, "skin_concerns": ["acne", "wrinkles"]},
        )
        scanned(auth_client)
        plan = auth_client.post(PLANS, {}).json()
        actives = {a for step in plan["am"] + plan["pm"] for a in step["actives"]}
        assert not actives & {"adapalene", "retinol", "retinal", "tretinoin"}

    def test_a_pregnancy_recorded_through_another_worker_a_moment_ago_is_respected(
        self, auth_client
    ):
        auth_client.patch("/api/v1/users/me", {"skin_concerns": ["acne", "wrinkles"]})
        scanned(auth_client)  # this worker now holds a copy of the user, without it
        users_table().call(
            "update_item",
            Key={"user_id": {"S": auth_client.session_data["user"]["user_id"]}},
            UpdateExpression="SET pregnant_or_breastfeeding = :yes",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )

        plan = auth_client.post(PLANS, {}).json()

        actives = {a for step in plan["am"] + plan["pm"] for a in step["actives"]}
        assert not actives & {"adapalene", "retinol", "retinal", "tretinoin"}

    def test_a_new_plan_archives_the_previous_active_one(self, auth_client):
        first = auth_client.post(PLANS, {}).json()
        second = auth_client.post(PLANS, {}).json()
        assert auth_client.get(f"{PLANS}/{first['plan_id']}").json()["status"] == "archived"
        assert auth_client.get(f"{PLANS}/active").json()["plan_id"] == second["plan_id"]
        listed = auth_client.get(PLANS).json()["items"]
        assert [p["plan_id"] for p in listed] == [second["plan_id"], first["plan_id"]]

    def test_two_concurrent_creations_leave_exactly_one_active_plan(self, auth_client):
        statuses = at_once(
            lambda: same_account(auth_client).post(PLANS, {}, format="json").status_code,
            threads=2,
        )
        assert sorted(statuses) == [201, 201]
        plans = auth_client.get(PLANS).json()["items"]
        assert len(plans) == 2
        assert sorted(p["status"] for p in plans) == ["active", "archived"]
        active = auth_client.get(f"{PLANS}/active").json()
        assert active["plan_id"] == next(p["plan_id"] for p in plans if p["status"] == "active")

    def test_thirty_creations_of_one_account_at_once_are_all_made_one_of_them_active(
        self, auth_client
    ):
        # As many as the plan throttle lets one account make in an hour, all at once: each
        # round of the active-plan pointer's transaction lets one of them through.
        statuses = at_once(
            lambda: same_account(auth_client).post(PLANS, {}, format="json").status_code,
            threads=30,
        )
        assert statuses == [201] * 30
        plans = auth_client.get(PLANS, {"limit": 50}).json()["items"]
        assert len(plans) == 30
        assert sorted(p["status"] for p in plans) == ["active"] + ["archived"] * 29
        active = auth_client.get(f"{PLANS}/active").json()
        assert active["plan_id"] == next(p["plan_id"] for p in plans if p["status"] == "active")

    @pytest.mark.parametrize(
        ("profile", "scan_first", "plans_before"),
        [
            ({}, False, 0),
            ({}, True, 0),
            ({"skin_type": "sensitive", "sensitivities": ["fragrance", "retinoids"]}, True, 1),
            ({"pregnant_or_breastfeeding": True, "skin_concerns": ["acne"]}, True, 2),
        ],
        ids=["no scan", "from a scan", "sensitive, replacing a plan", "pregnant, third plan"],
    )
    def test_the_answer_is_the_plan_as_a_read_of_it_returns_it(
        self, auth_client, profile, scan_first, plans_before
    ):
        if profile:
            assert auth_client.patch("/api/v1/users/me", profile).status_code == 200
        if scan_first:
            scanned(auth_client)
        for _ in range(plans_before):
            assert auth_client.post(PLANS, {}).status_code == 201

        created = auth_client.post(PLANS, {})

        assert created.status_code == 201
        read = auth_client.get(f"{PLANS}/{created.json()['plan_id']}")
        assert created.json() == read.json()
        assert created.json()["adherence"]["check_ins"] == 0

    def test_a_plan_leaves_out_what_the_profile_s_allergies_name(self, auth_client):
        profile = {
            "allergies": ["vitamin c", "Azelaic acid", "niacinamide"],
            "skin_concerns": ["pigmentation", "wrinkles"],
        }
        assert auth_client.patch("/api/v1/users/me", profile, format="json").status_code == 200
        scanned(auth_client)

        created = auth_client.post(PLANS, {})

        assert created.status_code == 201
        plan = created.json()
        actives = {active for r in ("am", "pm") for step in plan[r] for active in step["actives"]}
        assert not actives & {"vitamin_c", "azelaic_acid", "niacinamide"}
        assert any("Azelaic acid" in caution for caution in plan["cautions"])

    def test_creating_a_plan_reads_nothing_back(self, auth_client):
        scanned(auth_client)
        auth_client.post(PLANS, {})  # an active plan to archive, and a worker that knows the user

        with measure_dynamodb() as usage:
            created = auth_client.post(PLANS, {})

        assert created.status_code == 201
        # The account's count of plans this hour (THROTTLE_PLAN_RATE) and, the account
        # being unverified, its address's count of AI work (THROTTLE_AI_UNVERIFIED_RATE),
        # the profile (strongly consistent), the latest analysis, the active-plan pointer,
        # and one transaction; neither the stored plan nor its (no) check-ins read back.
        assert usage.calls_by_operation == {
            "UpdateItem": 2,
            "GetItem": 2,
            "Query": 1,
            "TransactWriteItems": 1,
        }

    def test_a_profile_authentication_read_in_the_request_is_not_read_again(self, auth_client):
        scanned(auth_client)
        auth_client.post(PLANS, {})
        users_table().forget(auth_client.session_data["user"]["user_id"])  # a stale copy

        with measure_dynamodb() as usage:
            created = auth_client.post(PLANS, {})

        assert created.status_code == 201
        # The plan count and the unverified AI count, the profile once (authentication's
        # strongly consistent read), the latest analysis, the active-plan pointer, and one
        # transaction.
        assert usage.calls_by_operation == {
            "UpdateItem": 2,
            "GetItem": 2,
            "Query": 1,
            "TransactWriteItems": 1,
        }

    def test_a_plan_from_an_unknown_or_unanalysed_scan_is_refused(self, auth_client):
        missing = auth_client.post(PLANS, {"scan_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"})
        assert missing.status_code == 404
        assert auth_client.post(PLANS, {"scan_id": "not-a-ulid"}).status_code == 400


class TestStatus:
    def test_two_patches_at_the_same_version_give_one_success_and_one_409(self, auth_client):
        plan = auth_client.post(PLANS, {}).json()
        url = f"{PLANS}/{plan['plan_id']}"
        paused = auth_client.patch(url, {"status": "paused", "version": plan["version"]})
        assert paused.status_code == 200
        assert paused.json()["status"] == "paused"
        stale = auth_client.patch(url, {"status": "completed", "version": plan["version"]})
        assert stale.status_code == 409
        assert error_code(stale) == "version_conflict"
        assert stale.json()["error"]["details"]["current_version"] == paused.json()["version"]
        assert auth_client.get(url).json()["status"] == "paused"

    def test_pausing_the_active_plan_leaves_no_active_plan_and_reactivating_restores_it(
        self, auth_client
    ):
        plan = auth_client.post(PLANS, {}).json()
        url = f"{PLANS}/{plan['plan_id']}"
        paused = auth_client.patch(url, {"status": "paused", "version": plan["version"]}).json()
        assert auth_client.get(f"{PLANS}/active").status_code == 404
        active = auth_client.patch(url, {"status": "active", "version": paused["version"]})
        assert active.status_code == 200
        assert auth_client.get(f"{PLANS}/active").json()["plan_id"] == plan["plan_id"]

    def test_a_plan_paused_for_a_month_goes_on_from_the_week_it_stopped_in(self, auth_client):
        plan = auth_client.post(PLANS, {}).json()
        assert (plan["current_week"], plan["days_followed"], plan["days_paused"]) == (1, 1, 0)
        url = f"{PLANS}/{plan['plan_id']}"
        user_id = auth_client.session_data["user"]["user_id"]
        backdate(user_id, plan["plan_id"], created_at=days_ago(60))  # began 60 days ago
        paused = auth_client.patch(url, {"status": "paused", "version": plan["version"]}).json()
        backdate(user_id, plan["plan_id"], inactive_since=days_ago(30))  # a month ago
        paused = auth_client.get(url).json()
        # Followed to the day it stopped (31 days), the 30 days since not.
        assert (paused["current_week"], paused["days_followed"], paused["days_paused"]) == (
            5,
            31,
            30,
        )
        resumed = auth_client.patch(url, {"status": "active", "version": paused["version"]})
        assert resumed.status_code == 200, resumed.content
        for shown in (
            resumed.json(),
            auth_client.get(url).json(),
            auth_client.get(PLANS).json()["items"][0],
        ):
            assert shown["current_week"] == 5  # day 32 followed, not week 9 of the calendar
            assert shown["days_followed"] == 32
            assert shown["days_paused"] == 29  # today is followed again

    @pytest.mark.parametrize(
        "body",
        [
            {"status": "archived", "version": 1},
            {"status": "deleted", "version": 1},
            {"status": "paused"},
            {"status": "paused", "version": 0},
            {"status": "paused", "version": 1, "title": "mine"},
            {"status": "paused", "version": 10**40},
        ],
    )
    def test_bad_status_changes_are_400(self, auth_client, body):
        plan = auth_client.post(PLANS, {}).json()
        response = auth_client.patch(f"{PLANS}/{plan['plan_id']}", body)
        assert response.status_code == 400
        assert error_code(response) == "invalid"

    def test_deleting_the_active_plan_removes_it_and_its_check_ins(self, auth_client):
        plan = auth_client.post(PLANS, {}).json()
        url = f"{PLANS}/{plan['plan_id']}"
        auth_client.post(
            f"{url}/check-ins", {"date": today(), "am_done": True, "pm_done": True, "irritation": 0}
        )
        assert auth_client.delete(url).status_code == 204
        assert auth_client.get(url).status_code == 404
        assert auth_client.get(f"{PLANS}/active").status_code == 404
        user_id = auth_client.session_data["user"]["user_id"]
        assert plans_table().all_check_ins(user_id, plan["plan_id"]) == []
        assert auth_client.delete(url).status_code == 404

    def test_a_plan_with_sixty_days_of_check_ins_is_deleted_with_every_one_of_them(
        self, auth_client
    ):
        # More check-ins than one BatchWriteItem may delete (25), over several batches.
        plan = new_plan(auth_client, began_days_ago=59)
        url = f"{PLANS}/{plan['plan_id']}"
        for days in range(59, -1, -1):
            day = {"date": days_ago(days), "am_done": True, "pm_done": days % 2 == 0}
            response = auth_client.post(f"{url}/check-ins", {**day, "irritation": 0})
            assert response.status_code == 201, response.content
        assert auth_client.get(url).json()["adherence"]["check_ins"] == 60

        assert auth_client.delete(url).status_code == 204
        assert auth_client.get(url).status_code == 404
        assert auth_client.get(f"{url}/check-ins").status_code == 404
        user_id = auth_client.session_data["user"]["user_id"]
        assert plans_table().all_check_ins(user_id, plan["plan_id"]) == []

    def test_a_delete_that_loses_a_race_deletes_nothing(self, auth_client, monkeypatch):
        plan, url, user_id = plan_with_check_ins(auth_client, days=30)
        # Between the delete's read and its write, another device makes a new plan active.
        meanwhile(
            monkeypatch,
            lambda: plans_table().call(
                "update_item",
                Key=plans_table().key(user_id, ACTIVE_POINTER),
                UpdateExpression="SET active_plan_id = :other",
                ExpressionAttributeValues={":other": {"S": "01JC0000000000000000000000"}},
            ),
        )
        response = auth_client.delete(url)
        assert response.status_code == 409, response.content
        assert auth_client.get(url).status_code == 200
        assert len(plans_table().all_check_ins(user_id, plan["plan_id"])) == 30

    def test_a_check_in_sent_while_the_plan_is_deleted_is_deleted_with_it(
        self, auth_client, monkeypatch
    ):
        plan, url, user_id = plan_with_check_ins(auth_client, days=3)
        late = CheckIn(user_id, plan["plan_id"], today(), True, True, 0, created_at=now_iso())
        meanwhile(monkeypatch, lambda: plans_table().put_check_in(late))
        assert auth_client.delete(url).status_code == 204
        assert plans_table().all_check_ins(user_id, plan["plan_id"], consistent=True) == []

    def test_deleting_again_removes_check_ins_a_failed_delete_left(self, auth_client, monkeypatch):
        plan, url, user_id = plan_with_check_ins(auth_client, days=30)
        table = type(plans_table())
        writes = table.batch_write

        def fails_after_the_first_batch(self, requests):
            writes(self, requests[:25])
            raise Unavailable()

        monkeypatch.setattr(table, "batch_write", fails_after_the_first_batch)
        assert auth_client.delete(url).status_code == 503
        monkeypatch.setattr(table, "batch_write", writes)
        assert auth_client.get(url).status_code == 404
        assert len(plans_table().all_check_ins(user_id, plan["plan_id"])) == 5
        assert auth_client.delete(url).status_code == 404
        assert plans_table().all_check_ins(user_id, plan["plan_id"], consistent=True) == []


def new_plan(client, *, began_days_ago: int = 0) -> dict:
    """A new active plan, as if made ``began_days_ago`` days ago: its check-ins may be
    dated from then on."""
    plan = client.post(PLANS, {}).json()
    if began_days_ago:
        user_id = client.session_data["user"]["user_id"]
        backdate(user_id, plan["plan_id"], created_at=days_ago(began_days_ago))
    return plan


def plan_with_check_ins(client, *, days: int) -> tuple[dict, str, str]:
    plan = new_plan(client, began_days_ago=days)
    url = f"{PLANS}/{plan['plan_id']}"
    for day in range(days):
        check_in = {"date": days_ago(day), "am_done": True, "pm_done": True, "irritation": 0}
        assert client.post(f"{url}/check-ins", check_in).status_code == 201
    return plan, url, client.session_data["user"]["user_id"]


def meanwhile(monkeypatch, change) -> None:
    """Run ``change`` once, just before the next transaction of the plans table."""
    table = type(plans_table())
    transact = table.transact

    def after_the_change(self, actions):
        monkeypatch.setattr(table, "transact", transact)
        change()
        transact(self, actions)

    monkeypatch.setattr(table, "transact", after_the_change)


class TestCheckIns:
    def test_check_ins_report_adherence_and_a_second_one_replaces_the_first(self, auth_client):
        plan = auth_client.post(PLANS, {}).json()
        url = f"{PLANS}/{plan['plan_id']}/check-ins"
        day = {"date": days_ago(1), "am_done": True, "pm_done": False, "irritation": 1}
        assert auth_client.post(url, day).status_code == 201
        assert auth_client.post(url, {**day, "pm_done": True, "notes": "fine"}).status_code == 201
        assert (
            auth_client.post(
                url, {"date": today(), "am_done": False, "pm_done": False, "irritation": 0}
            ).status_code
            == 201
        )
        listed = auth_client.get(url).json()["items"]
        assert [c["date"] for c in listed] == [today(), days_ago(1)]
        assert listed[1]["pm_done"] is True and listed[1]["notes"] == "fine"
        adherence = auth_client.get(f"{PLANS}/{plan['plan_id']}").json()["adherence"]
        assert adherence["check_ins"] == 2
        assert adherence["rate"] == 0.5
        assert adherence["irritation_rising"] is False

    def test_rising_irritation_is_flagged(self, auth_client):
        plan = new_plan(auth_client, began_days_ago=6)
        url = f"{PLANS}/{plan['plan_id']}/check-ins"
        for days, level in zip(range(6, 0, -1), [0, 0, 1, 2, 3, 4], strict=True):
            auth_client.post(
                url, {"date": days_ago(days), "am_done": True, "pm_done": True, "irritation": level}
            )
        adherence = auth_client.get(f"{PLANS}/active").json()["adherence"]
        assert adherence["irritation_rising"] is True
        assert adherence["latest_irritation"] == 4

    @pytest.mark.parametrize(
        "levels", [[1, 2, 2, 3, 3, 2], [0, 1, 1, 1, 2, 2], [2, 2, 3, 3, 3, 4], [1, 1, 1, 2, 2, 2]]
    )
    def test_a_rise_of_exactly_one_level_on_average_is_rising(self, auth_client, levels):
        # 8/3 - 5/3 is 0.999... in floating point: the rise is counted in whole levels.
        plan = new_plan(auth_client, began_days_ago=5)
        url = f"{PLANS}/{plan['plan_id']}/check-ins"
        for days, level in zip(range(5, -1, -1), levels, strict=True):
            day = {"date": days_ago(days), "am_done": True, "pm_done": True, "irritation": level}
            assert auth_client.post(url, day).status_code == 201
        adherence = auth_client.get(f"{PLANS}/{plan['plan_id']}").json()["adherence"]
        assert adherence["irritation_rising"] is True

    def test_days_months_before_the_latest_are_not_compared_with_it(self, auth_client):
        plan = new_plan(auth_client, began_days_ago=200)
        url = f"{PLANS}/{plan['plan_id']}/check-ins"
        for days, level in zip([200, 199, 198, 2, 1, 0], [0, 0, 0, 1, 1, 1], strict=True):
            day = {"date": days_ago(days), "am_done": True, "pm_done": True, "irritation": level}
            assert auth_client.post(url, day).status_code == 201
        adherence = auth_client.get(f"{PLANS}/{plan['plan_id']}").json()["adherence"]
        assert adherence["check_ins"] == 6
        assert adherence["irritation_rising"] is False

    @pytest.mark.parametrize("set_aside", [False, True], ids=["followed", "taken up again"])
    def test_irritation_of_months_ago_is_not_told_as_current(self, auth_client, set_aside):
        plan = new_plan(auth_client, began_days_ago=300)
        url = f"{PLANS}/{plan['plan_id']}"
        for days, level in zip(range(262, 249, -1), [0] * 10 + [4] * 3, strict=True):
            day = {"date": days_ago(days), "am_done": True, "pm_done": True, "irritation": level}
            assert auth_client.post(f"{url}/check-ins", day).status_code == 201
        if set_aside:  # set aside 250 days ago, made active again today
            paused = auth_client.patch(url, {"status": "paused", "version": plan["version"]})
            user_id = auth_client.session_data["user"]["user_id"]
            backdate(user_id, plan["plan_id"], inactive_since=days_ago(250))
            resumed = auth_client.patch(
                url, {"status": "active", "version": paused.json()["version"]}
            )
            assert resumed.status_code == 200, resumed.content
        adherence = auth_client.get(f"{PLANS}/active").json()["adherence"]
        assert adherence["check_ins"] == 13
        assert adherence["irritation_rising"] is False
        assert adherence["latest_irritation"] is None

    def test_irritation_is_told_from_the_day_a_plan_was_taken_up_again(self, auth_client):
        plan = new_plan(auth_client, began_days_ago=20)
        url = f"{PLANS}/{plan['plan_id']}"
        for days, level in zip(range(20, 14, -1), [0, 0, 1, 2, 3, 4], strict=True):
            day = {"date": days_ago(days), "am_done": True, "pm_done": True, "irritation": level}
            assert auth_client.post(f"{url}/check-ins", day).status_code == 201
        paused = auth_client.patch(url, {"status": "paused", "version": plan["version"]})
        backdate(
            auth_client.session_data["user"]["user_id"],
            plan["plan_id"],
            inactive_since=days_ago(14),
        )
        resumed = auth_client.patch(url, {"status": "active", "version": paused.json()["version"]})
        assert resumed.status_code == 200, resumed.content
        adherence = auth_client.get(f"{PLANS}/active").json()["adherence"]
        assert (adherence["irritation_rising"], adherence["latest_irritation"]) == (False, None)
        today_check_in = {"date": today(), "am_done": True, "pm_done": True, "irritation": 1}
        assert auth_client.post(f"{url}/check-ins", today_check_in).status_code == 201
        adherence = auth_client.get(url).json()["adherence"]
        assert (adherence["irritation_rising"], adherence["latest_irritation"]) == (False, 1)

    @pytest.mark.parametrize(
        "began_days_ago, dated",
        [
            (0, days_ago(2)),
            (0, days_ago(45)),
            (0, "2000-02-29"),
            (0, "0001-01-01"),
            (12, days_ago(14)),
            (300, days_ago(302)),
        ],
    )
    def test_a_check_in_dated_before_its_plan_began_is_400_and_stores_nothing(
        self, auth_client, began_days_ago, dated
    ):
        # Each plan's check-ins are then at most one a day of its life, read whole with it.
        plan = new_plan(auth_client, began_days_ago=began_days_ago)
        url = f"{PLANS}/{plan['plan_id']}"
        check_in = {"date": dated, "am_done": True, "pm_done": True, "irritation": 1}
        response = auth_client.post(f"{url}/check-ins", check_in)
        assert response.status_code == 400, response.content
        assert error_code(response) == "invalid"
        earliest = days_ago(began_days_ago + 1)
        assert response.json()["error"]["details"] == {
            "date": [f"A check-in of this plan cannot be dated before {earliest}."]
        }
        assert auth_client.get(f"{url}/check-ins").json()["items"] == []
        assert auth_client.get(url).json()["adherence"]["check_ins"] == 0

    @pytest.mark.parametrize("began_days_ago", [0, 1, 30, 180])
    def test_a_check_in_may_be_dated_from_the_day_before_its_plan_began(
        self, auth_client, began_days_ago
    ):
        # The day before: west of Greenwich, the person's date can be a day behind UTC.
        plan = new_plan(auth_client, began_days_ago=began_days_ago)
        url = f"{PLANS}/{plan['plan_id']}/check-ins"
        for dated in (days_ago(began_days_ago + 1), days_ago(began_days_ago), today()):
            day = {"date": dated, "am_done": True, "pm_done": False, "irritation": 0}
            assert auth_client.post(url, day).status_code == 201
        dates = [c["date"] for c in auth_client.get(url).json()["items"]]
        assert (
            dates == sorted({today(), days_ago(began_days_ago), days_ago(began_days_ago + 1)})[::-1]
        )

    @pytest.mark.parametrize("stopped_as", ["paused", "completed", "archived"])
    def test_a_plan_not_followed_takes_no_check_in_dated_after_it_stopped(
        self, auth_client, stopped_as
    ):
        plan = new_plan(auth_client, began_days_ago=60)
        url = f"{PLANS}/{plan['plan_id']}"
        if stopped_as == "archived":  # set aside for a new plan
            assert auth_client.post(PLANS, {}).status_code == 201
        else:
            changed = auth_client.patch(url, {"status": stopped_as, "version": plan["version"]})
            assert changed.status_code == 200, changed.content
        user_id = auth_client.session_data["user"]["user_id"]
        backdate(user_id, plan["plan_id"], inactive_since=days_ago(30))

        def check_in(dated: str):
            day = {"date": dated, "am_done": True, "pm_done": True, "irritation": 4}
            return auth_client.post(f"{url}/check-ins", day)

        # Days it was followed, the day it stopped and the day after (east of Greenwich,
        # the person's date is a day ahead of UTC's).
        for dated in (days_ago(45), days_ago(30), days_ago(29)):
            assert check_in(dated).status_code == 201
        for dated in (days_ago(28), days_ago(10), today()):
            response = check_in(dated)
            assert response.status_code == 400, response.content
            assert error_code(response) == "invalid"
            assert response.json()["error"]["details"] == {
                "date": [
                    f"This plan is {stopped_as}: a check-in of it cannot be dated after "
                    f"{days_ago(29)}. Make it active again to check in."
                ]
            }
        shown = auth_client.get(url).json()
        assert (shown["days_followed"], shown["adherence"]["check_ins"]) == (31, 3)
        listed = auth_client.get(f"{url}/check-ins").json()["items"]
        assert [c["date"] for c in listed] == [days_ago(29), days_ago(30), days_ago(45)]

        resumed = auth_client.patch(url, {"status": "active", "version": shown["version"]})
        assert resumed.status_code == 200, resumed.content
        assert check_in(today()).status_code == 201

    def test_a_plan_paused_before_stops_were_recorded_stopped_when_last_changed(self, auth_client):
        """A plan stored without ``inactive_since`` reads as stopped at its last change
        (its ``updated_at``), and takes no check-in dated after it either."""
        plan = new_plan(auth_client, began_days_ago=60)
        url = f"{PLANS}/{plan['plan_id']}"
        paused = auth_client.patch(url, {"status": "paused", "version": plan["version"]})
        assert paused.status_code == 200, paused.content
        user_id = auth_client.session_data["user"]["user_id"]
        backdate(user_id, plan["plan_id"], updated_at=days_ago(30))
        get_client().update_item(
            TableName=plans_table().name,
            Key=plans_table().key(user_id, plan["plan_id"]),
            UpdateExpression="REMOVE inactive_since",
        )

        def check_in(dated: str):
            day = {"date": dated, "am_done": True, "pm_done": False, "irritation": 1}
            return auth_client.post(f"{url}/check-ins", day)

        assert check_in(days_ago(40)).status_code == 201
        assert check_in(days_ago(29)).status_code == 201
        refused = check_in(days_ago(5))
        assert refused.status_code == 400, refused.content
        assert days_ago(29) in refused.json()["error"]["details"]["date"][0]

    @pytest.mark.parametrize("day", ["0001-01-01", "0001-01-27", "0001-01-28"])
    def test_a_check_in_dated_in_year_one_leaves_the_plan_readable(self, auth_client, day):
        # Stored on a plan of that day (a check-in cannot be dated before its plan).
        plan = auth_client.post(PLANS, {}).json()
        url = f"{PLANS}/{plan['plan_id']}"
        backdate(auth_client.session_data["user"]["user_id"], plan["plan_id"], created_at=day)
        check_in = {"date": day, "am_done": True, "pm_done": False, "irritation": 2}
        assert auth_client.post(f"{url}/check-ins", check_in).status_code == 201
        read = auth_client.get(url)
        assert read.status_code == 200, read.content
        # Its irritation is not today's: none is told.
        assert read.json()["adherence"]["latest_irritation"] is None
        assert read.json()["adherence"]["check_ins"] == 1
        assert auth_client.get(f"{PLANS}/active").status_code == 200
        paused = auth_client.patch(url, {"status": "paused", "version": plan["version"]})
        assert paused.status_code == 200, paused.content

    @pytest.mark.parametrize(
        "changes",
        [
            {"irritation": 6},
            {"irritation": -1},
            {"date": (datetime.now(UTC).date() + timedelta(days=10)).isoformat()},
            {"date": "yesterday"},
            {"am_done": "sometimes"},
            {"notes": "x" * 1001},
            {"plan_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
        ],
    )
    def test_bad_check_ins_are_400(self, auth_client, changes):
        plan = auth_client.post(PLANS, {}).json()
        body = {"date": today(), "am_done": True, "pm_done": True, "irritation": 0, **changes}
        response = auth_client.post(f"{PLANS}/{plan['plan_id']}/check-ins", body)
        assert response.status_code == 400
        assert error_code(response) == "invalid"


class TestIsolation:
    def test_another_account_gets_404_for_every_plan_endpoint(self, auth_client, register):
        plan = auth_client.post(PLANS, {}).json()
        url = f"{PLANS}/{plan['plan_id']}"
        intruder = other_client(register)
        check_in = {"date": today(), "am_done": True, "pm_done": True, "irritation": 0}
        attempts = [
            intruder.get(url),
            intruder.patch(url, {"status": "paused", "version": plan["version"]}),
            intruder.delete(url),
            intruder.get(f"{url}/check-ins"),
            intruder.post(f"{url}/check-ins", check_in),
            intruder.get(f"{PLANS}/active"),
        ]
        assert [r.status_code for r in attempts] == [404] * 6
        assert intruder.get(PLANS).json()["items"] == []
        assert auth_client.get(url).json()["status"] == "active"

    def test_a_malformed_plan_id_is_404(self, auth_client):
        assert auth_client.get(f"{PLANS}/not-a-plan").status_code == 404


class TestGeminiDraft:
    def test_a_gemini_draft_pairing_a_retinoid_with_bpo_is_never_stored_as_drafted(
        self, auth_client, gemini_settings, fake_gemini
    ):
        from dynamo.scans import Scan, scans_table
        from plans.rules import build_plan
        from plans.tests.test_drafting import ANALYSIS, PROFILE, index_of
        from skincare.actives import kind_of
        from tests.fake_gemini import FakeResponse

        auth_client.patch(
            "/api/v1/users/me",
            {
                "skin_type": PROFILE.skin_type,
                "skin_concerns": list(PROFILE.skin_concerns),
                "sensitivities": list(PROFILE.sensitivities),
                "age_range": PROFILE.age_range,
            },
        )
        user_id = auth_client.session_data["user"]["user_id"]
        now = datetime.now(UTC).isoformat()
        scans_table().create(
            Scan(
                user_id=user_id,
                scan_id="01JD0000000000000000000000",
                status="complete",
                area="face",
                scanned_at=now,
                created_at=now,
                updated_at=now,
                image_key=f"{user_id}/01JD0000000000000000000000/image.jpg",
                analysis=ANALYSIS,
            )
        )
        unsafe = build_plan(analysis=ANALYSIS, profile=PROFILE)
        unsafe["pm"][index_of(unsafe["pm"], "adapalene")]["actives"].append("benzoyl_peroxide")
        fake_gemini.enqueue(FakeResponse.json_answer(unsafe))

        response = auth_client.post(PLANS, {})
        assert response.status_code == 201, response.content
        assert len(fake_gemini.requests) == 1
        stored = auth_client.get(f"{PLANS}/{response.json()['plan_id']}").json()
        for routine in ("am", "pm"):
            routine_kinds = {kind_of(a) for step in stored[routine] for a in step["actives"]}
            assert not {"retinoid", "benzoyl_peroxide"} <= routine_kinds, routine
        assert stored["safety_corrections"]


class TestDailyDrafts:
    """Gemini drafts AI_PLAN_DRAFTS_PER_DAY of a person's plans a day; then the rules do."""

    @staticmethod
    def create(client) -> dict:
        response = client.post(PLANS, {}, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    @staticmethod
    def gemini_drafts(fake_gemini, count: int, *, delay_seconds: float = 0.0) -> None:
        """``count`` good drafts from Gemini: the rules' plan for an account with no scan,
        each after ``delay_seconds``."""
        from dataclasses import replace

        from ai.providers import SkinProfile
        from plans.rules import build_plan
        from tests.fake_gemini import FakeResponse

        draft = build_plan(analysis=None, profile=SkinProfile())
        answer = replace(FakeResponse.json_answer(draft), delay_seconds=delay_seconds)
        fake_gemini.enqueue(*[answer] * count)

    def test_past_the_days_drafts_a_plan_is_the_rules_own_and_says_why(
        self, auth_client, register, gemini_settings, fake_gemini
    ):
        gemini_settings.AI_PLAN_DRAFTS_PER_DAY = 2
        self.gemini_drafts(fake_gemini, 5)
        plans = [self.create(auth_client) for _ in range(4)]

        assert [(p["provider"], p["drafting_note"]) for p in plans] == [
            ("gemini", None),
            ("gemini", None),
            ("offline", "assistant_quota_reached"),
            ("offline", "assistant_quota_reached"),
        ]
        assert len(fake_gemini.requests) == 2
        # A plan past the allowance is a whole plan, made active like any other.
        assert plans[3]["am"] and plans[3]["am"][-1]["category"] == "sunscreen"
        assert auth_client.get(f"{PLANS}/active").json()["plan_id"] == plans[3]["plan_id"]
        # The allowance is each person's own.
        other = APIClient()
        other.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")
        assert self.create(other)["provider"] == "gemini"
        assert len(fake_gemini.requests) == 3

    def test_concurrent_creations_never_pass_the_allowance(
        self, auth_client, gemini_settings, fake_gemini
    ):
        gemini_settings.AI_PLAN_DRAFTS_PER_DAY = 3
        # A draft for every request: any past the allowance would be drafted by Gemini.
        self.gemini_drafts(fake_gemini, 10)
        plans = at_once(lambda: self.create(same_account(auth_client)), threads=10)

        drafted = [p for p in plans if p["provider"] == "gemini"]
        noted = [p for p in plans if p["drafting_note"] == "assistant_quota_reached"]
        assert (len(drafted), len(noted)) == (3, 7)
        assert len(fake_gemini.requests) == 3

    def test_a_drafted_plan_that_could_not_be_stored_gives_its_draft_back(
        self, auth_client, gemini_settings, fake_gemini, monkeypatch
    ):
        gemini_settings.AI_PLAN_DRAFTS_PER_DAY = 8
        self.gemini_drafts(fake_gemini, 16)
        # No second try for the active-plan pointer: creations at once that meet there are
        # 503s after Gemini drafted them, as a herd past any time budget would be.
        monkeypatch.setattr("dynamo.contention.CONTENTION_SECONDS", 0.0)
        statuses = at_once(
            lambda: same_account(auth_client).post(PLANS, {}, format="json").status_code,
            threads=8,
        )
        assert 503 in statuses and 201 in statuses
        monkeypatch.undo()

        while self.create(auth_client)["provider"] == "gemini":
            pass
        plans = auth_client.get(PLANS, {"limit": 50}).json()["items"]
        # Every one of the day's eight drafts is in a stored plan.
        assert sum(p["provider"] == "gemini" for p in plans) == 8

    def test_a_draft_gemini_did_not_give_is_not_counted(
        self, auth_client, gemini_settings, fake_gemini
    ):
        from ai.providers import forget_providers
        from tests.fake_gemini import FakeResponse

        gemini_settings.AI_PLAN_DRAFTS_PER_DAY = 1
        gemini_settings.GEMINI_MAX_ATTEMPTS = 1
        forget_providers()
        fake_gemini.enqueue(FakeResponse.status(503))
        self.gemini_drafts(fake_gemini, 2)

        failed = self.create(auth_client)
        drafted = self.create(auth_client)
        past = self.create(auth_client)

        assert (failed["provider"], failed["drafting_note"]) == ("offline", "assistant_unavailable")
        assert (drafted["provider"], drafted["drafting_note"]) == ("gemini", None)
        assert past["drafting_note"] == "assistant_quota_reached"
        assert len(fake_gemini.requests) == 2

    def test_the_offline_provider_is_not_counted(self, auth_client, settings):
        settings.AI_PLAN_DRAFTS_PER_DAY = 0
        plan = self.create(auth_client)
        assert (plan["provider"], plan["drafting_note"]) == ("offline", None)


def test_creating_plans_is_limited_per_account(auth_client, register, throttle_rates):
    throttle_rates(plans="2/hour")
    made = [auth_client.post(PLANS, {}, format="json") for _ in range(3)]

    assert [answer.status_code for answer in made] == [201, 201, 429]
    assert error_code(made[2]) == "throttled"
    assert int(made[2]["Retry-After"]) > 0
    # Nothing was made past the limit, and reading and checking in are not limited.
    assert [p["plan_id"] for p in auth_client.get(PLANS).json()["items"]] == [
        made[1].json()["plan_id"],
        made[0].json()["plan_id"],
    ]
    check_in = {"date": today(), "am_done": True, "pm_done": False, "irritation": 0}
    url = f"{PLANS}/{made[1].json()['plan_id']}/check-ins"
    assert auth_client.post(url, check_in, format="json").status_code == 201
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")
    assert other.post(PLANS, {}, format="json").status_code == 201


def test_writing_check_ins_is_limited_per_account(auth_client, register, throttle_rates):
    throttle_rates(check_ins="3/hour")
    plan = new_plan(auth_client, began_days_ago=5)
    url = f"{PLANS}/{plan['plan_id']}/check-ins"
    day = {"date": today(), "am_done": True, "pm_done": False, "irritation": 0}
    # A script rewriting one day in a loop: each write is a transaction on the plan.
    written = [auth_client.post(url, {**day, "pm_done": n % 2 == 0}) for n in range(4)]

    assert [answer.status_code for answer in written] == [201, 201, 201, 429]
    assert error_code(written[3]) == "throttled"
    assert int(written[3]["Retry-After"]) > 0
    # Nothing was written past the limit; reading is not limited, nor is anyone else.
    [stored] = auth_client.get(url).json()["items"]
    assert stored["pm_done"] is True
    assert auth_client.get(f"{PLANS}/{plan['plan_id']}").status_code == 200
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")
    other_plan = other.post(PLANS, {}).json()
    assert other.post(f"{PLANS}/{other_plan['plan_id']}/check-ins", day).status_code == 201
