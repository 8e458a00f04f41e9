"""POST /api/v1/plans sent again with its Idempotency-Key: one plan, drafted once.

Without a key, a retry after a lost answer drafts a second plan (Gemini asked again,
a draft of the day's allowance spent) and archives the first.
"""

import time

import pytest

from ai.providers import forget_providers
from dynamo.errors import Unavailable
from dynamo.plans import plans_table
from dynamo.request_keys import RequestKey, claim_key
from plans import services
from plans.tests.test_api import PLANS, TestDailyDrafts, error_code, same_account, scanned
from tests.at_once import at_once
from tests.fake_gemini import FakeResponse
from tests.openapi import assert_documents_the_key, openapi_operation

KEY = "plan-7f3a"


def keyed(key: str = KEY) -> dict[str, str]:
    return {"HTTP_IDEMPOTENCY_KEY": key}


def plans_of(client) -> list[dict]:
    return client.get(PLANS).json()["items"]


def test_a_retry_gets_the_plan_made_first_and_drafts_nothing(
    auth_client, gemini_settings, fake_gemini
):
    first = auth_client.post(PLANS, {}, format="json", **keyed())
    assert first.status_code == 201, first.content
    drafted = len(fake_gemini.requests)
    assert drafted == 1

    again = auth_client.post(PLANS, {}, format="json", **keyed())

    assert again.status_code == 200, again.content
    assert again.json()["plan_id"] == first.json()["plan_id"]
    assert again.json()["status"] == "active"
    assert len(fake_gemini.requests) == drafted
    assert [p["plan_id"] for p in plans_of(auth_client)] == [first.json()["plan_id"]]


def test_copies_sent_together_make_one_plan(auth_client, gemini_settings, fake_gemini):
    # Gemini takes its time: the copies arrive while the first is drafting.
    TestDailyDrafts.gemini_drafts(fake_gemini, 4, delay_seconds=1.0)
    answers = at_once(
        lambda: same_account(auth_client).post(PLANS, {}, format="json", **keyed()),
        threads=4,
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(201) == 1
    assert set(statuses) <= {200, 201, 409}, statuses
    made = next(a for a in answers if a.status_code == 201).json()["plan_id"]
    assert [p["plan_id"] for p in plans_of(auth_client)] == [made]
    for refused in (a for a in answers if a.status_code == 409):
        assert error_code(refused) == "idempotency_key_in_flight"
        assert 5 <= int(refused["Retry-After"]) <= 8
    assert len(fake_gemini.requests) == 1


def test_the_key_with_another_scan_is_a_422(auth_client):
    assert auth_client.post(PLANS, {}, format="json", **keyed()).status_code == 201
    scan = scanned(auth_client)
    other = auth_client.post(PLANS, {"scan_id": scan["scan_id"]}, format="json", **keyed())
    assert other.status_code == 422
    assert error_code(other) == "idempotency_key_reused"
    assert len(plans_of(auth_client)) == 1


def test_a_deleted_plan_is_not_made_again_under_its_key(auth_client):
    plan = auth_client.post(PLANS, {}, format="json", **keyed()).json()
    assert auth_client.delete(f"{PLANS}/{plan['plan_id']}").status_code == 204
    again = auth_client.post(PLANS, {}, format="json", **keyed())
    assert again.status_code == 409
    assert error_code(again) == "idempotency_key_plan_deleted"
    assert plans_of(auth_client) == []


def test_after_a_failed_attempt_the_key_makes_the_plan(auth_client, monkeypatch):
    table = type(plans_table())
    activate = table.activate

    def unavailable(self, *args, **kwargs):
        raise Unavailable("DynamoDB is unavailable.")

    monkeypatch.setattr(table, "activate", unavailable)
    failed = auth_client.post(PLANS, {}, format="json", **keyed())
    assert failed.status_code == 503
    monkeypatch.setattr(table, "activate", activate)

    retried = auth_client.post(PLANS, {}, format="json", **keyed())

    assert retried.status_code == 201, retried.content
    assert [p["plan_id"] for p in plans_of(auth_client)] == [retried.json()["plan_id"]]


@pytest.mark.parametrize(("held_for", "status"), [(-1, 201), (60, 409)])
def test_an_attempt_that_died_holds_its_key_only_until_its_hold_ends(auth_client, held_for, status):
    user_id = auth_client.session_data["user"]["user_id"]
    now = int(time.time())
    dying = RequestKey(
        user_id=user_id,
        kind=services.PLAN_KEYS,
        key=KEY,
        request_digest=services.plan_digest(None),
        held_until=now + held_for,
    )
    assert claim_key(dying, now=now)

    response = auth_client.post(PLANS, {}, format="json", **keyed())

    assert response.status_code == status, response.content
    assert len(plans_of(auth_client)) == (1 if status == 201 else 0)


def test_a_replay_spends_none_of_the_days_drafts(auth_client, gemini_settings, fake_gemini):
    gemini_settings.AI_PLAN_DRAFTS_PER_DAY = 2
    TestDailyDrafts.gemini_drafts(fake_gemini, 2)
    first = auth_client.post(PLANS, {}, format="json", **keyed())
    assert (first.status_code, first.json()["provider"]) == (201, "gemini")

    replays = [auth_client.post(PLANS, {}, format="json", **keyed()) for _ in range(3)]

    assert {(r.status_code, r.json()["plan_id"]) for r in replays} == {
        (200, first.json()["plan_id"])
    }
    # The day's second draft is still there for another plan.
    other = auth_client.post(PLANS, {}, format="json")
    assert (other.json()["provider"], other.json()["drafting_note"]) == ("gemini", None)
    assert len(fake_gemini.requests) == 2


def test_a_plan_the_rules_drafted_while_gemini_was_down_is_the_keys_plan(
    auth_client, gemini_settings, fake_gemini
):
    gemini_settings.GEMINI_MAX_ATTEMPTS = 1
    forget_providers()
    fake_gemini.enqueue(FakeResponse.status(503))
    first = auth_client.post(PLANS, {}, format="json", **keyed())
    assert first.status_code == 201
    assert first.json()["drafting_note"] == "assistant_unavailable"

    again = auth_client.post(PLANS, {}, format="json", **keyed())

    # The request was answered (a plan is made whatever Gemini does): a new key asks again.
    assert again.status_code == 200
    assert again.json()["plan_id"] == first.json()["plan_id"]
    assert len(fake_gemini.requests) == 1
    assert len(plans_of(auth_client)) == 1


def test_without_a_key_a_retry_makes_a_second_plan(auth_client):
    first = auth_client.post(PLANS, {}, format="json").json()
    second = auth_client.post(PLANS, {}, format="json").json()
    assert first["plan_id"] != second["plan_id"]


def test_the_schema_documents_the_key_and_what_a_retry_gets():
    operation = openapi_operation("/api/v1/plans")
    assert_documents_the_key(operation)
    assert "idempotency_key_plan_deleted" in operation["responses"]["409"]["description"]
