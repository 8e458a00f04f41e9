"""Chat endpoints through the HTTP API, with the offline assistant (the tests' default)."""

import json

import pytest
from ulid import ULID

from chat.tests.helpers import SESSIONS, messages_url, store_scan_and_plan, user_id_of
from dynamo.activity import account_activity
from dynamo.chat import chat_table
from dynamo.client import get_client
from dynamo.errors import Unavailable
from dynamo.metrics import measure_dynamodb
from dynamo.users import activity_key, users_table
from plans.tests.test_api import backdate, days_ago


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def all_messages(client, session_id: str, limit: int = 100) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(messages_url(session_id), params)
        assert response.status_code == 200, response.content
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


def partition_items(user_id: str) -> list[dict]:
    response = get_client().query(
        TableName=chat_table().name,
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
        ConsistentRead=True,
    )
    return response["Items"]


def reply_under_way(send, session_id: str):
    """A streamed reply's answer and its stream, read to the reply's first piece."""
    response = send(session_id, "What helps redness?", HTTP_ACCEPT="text/event-stream")
    stream = iter(response.streaming_content)
    assert next(stream).startswith(b"event: message")
    assert next(stream).startswith(b"event: delta")
    return response, stream


def events_of(response) -> list[tuple[str, dict]]:
    text = b"".join(response.streaming_content).decode()
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields["event"], json.loads(fields["data"])))
    return events


class TestSessions:
    def test_sessions_are_listed_newest_first_with_title_and_last_activity(
        self, auth_client, start_session, send
    ):
        first = start_session(title="Morning routine")
        second = start_session()
        third = start_session(title="Sunscreen")
        assert second["title"] is None
        assert send(second["session_id"], "Why   is my skin so dry in winter?").status_code == 201
        response = auth_client.get(SESSIONS)
        assert response.status_code == 200
        listed = response.json()["items"]
        assert [s["session_id"] for s in listed] == [
            third["session_id"],
            second["session_id"],
            first["session_id"],
        ]
        touched = listed[1]
        assert touched["title"] == "Why is my skin so dry in winter?"
        assert touched["message_count"] == 2
        assert touched["last_activity_at"] > second["last_activity_at"]
        assert listed[0]["title"] == "Sunscreen" and listed[0]["message_count"] == 0

    def test_the_session_list_pages_with_a_cursor(self, auth_client, start_session):
        started = [start_session()["session_id"] for _ in range(3)]
        page = auth_client.get(SESSIONS, {"limit": 2}).json()
        rest = auth_client.get(SESSIONS, {"limit": 2, "cursor": page["next_cursor"]}).json()
        assert [s["session_id"] for s in page["items"] + rest["items"]] == started[::-1]
        assert rest["next_cursor"] is None

    def test_one_session_is_shown_by_its_id(self, auth_client, start_session):
        session = start_session(title="Retinol questions")
        response = auth_client.get(f"{SESSIONS}/{session['session_id']}")
        assert response.status_code == 200
        assert response.json() == session

    def test_a_long_first_message_names_the_session_with_its_first_words(
        self, auth_client, start_session, send
    ):
        session = start_session()
        send(session["session_id"], "word " * 40)
        title = auth_client.get(f"{SESSIONS}/{session['session_id']}").json()["title"]
        assert title.startswith("word word") and title.endswith("...")
        assert len(title) <= 63


class TestMessages:
    def test_a_message_returns_itself_and_the_reply_both_stored_in_order(
        self, auth_client, start_session, send
    ):
        session_id = start_session()["session_id"]
        response = send(session_id, "How should I use sunscreen?")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["message"]["role"] == "user"
        assert body["message"]["content"] == "How should I use sunscreen?"
        assert body["reply"]["role"] == "assistant"
        assert "offline assistant" in body["reply"]["content"]
        assert "not a diagnosis" in body["reply"]["content"]
        assert all_messages(auth_client, session_id) == [body["message"], body["reply"]]

    def test_messages_page_oldest_first_with_a_cursor(self, auth_client, start_session, send):
        session_id = start_session()["session_id"]
        for number in range(3):
            assert send(session_id, f"question {number}").status_code == 201
        first = auth_client.get(messages_url(session_id), {"limit": 4}).json()
        assert [m["role"] for m in first["items"]] == ["user", "assistant"] * 2
        assert [m["content"] for m in first["items"][::2]] == ["question 0", "question 1"]
        rest = auth_client.get(
            messages_url(session_id), {"limit": 4, "cursor": first["next_cursor"]}
        ).json()
        assert rest["items"][0]["content"] == "question 2"
        assert len(rest["items"]) == 2 and rest["next_cursor"] is None
        ids = [m["message_id"] for m in first["items"] + rest["items"]]
        assert ids == sorted(ids)

    def test_messages_page_newest_first_with_a_cursor(self, auth_client, start_session, send):
        session_id = start_session()["session_id"]
        for number in range(3):
            assert send(session_id, f"question {number}").status_code == 201
        oldest_first = all_messages(auth_client, session_id)
        first = auth_client.get(messages_url(session_id), {"limit": 4, "order": "newest"}).json()
        assert [m["role"] for m in first["items"]] == ["assistant", "user"] * 2
        assert [m["content"] for m in first["items"][1::2]] == ["question 2", "question 1"]
        rest = auth_client.get(
            messages_url(session_id),
            {"limit": 4, "order": "newest", "cursor": first["next_cursor"]},
        ).json()
        assert rest["next_cursor"] is None
        assert first["items"] + rest["items"] == oldest_first[::-1]

    def test_newest_first_ends_where_the_conversation_starts(
        self, auth_client, start_session, send
    ):
        # Two pages of exactly the limit: the second reaches the session's start (its
        # item sorts before every message) and says there is nothing further back.
        session_id = start_session()["session_id"]
        for number in range(2):
            assert send(session_id, f"question {number}").status_code == 201
        first = auth_client.get(messages_url(session_id), {"limit": 3, "order": "newest"}).json()
        assert len(first["items"]) == 3 and first["next_cursor"] is not None
        last = auth_client.get(
            messages_url(session_id),
            {"limit": 3, "order": "newest", "cursor": first["next_cursor"]},
        ).json()
        assert [m["content"] for m in last["items"]] == ["question 0"]
        assert last["next_cursor"] is None

    def test_a_cursor_continues_only_the_order_it_was_made_for(
        self, auth_client, start_session, send
    ):
        session_id = start_session()["session_id"]
        for number in range(2):
            send(session_id, f"question {number}")
        cursor = auth_client.get(messages_url(session_id), {"limit": 1}).json()["next_cursor"]
        response = auth_client.get(
            messages_url(session_id), {"limit": 1, "order": "newest", "cursor": cursor}
        )
        assert error_of(response, 400)["code"] == "invalid_cursor"

    def test_an_unknown_order_is_400(self, auth_client, start_session):
        session_id = start_session()["session_id"]
        response = auth_client.get(messages_url(session_id), {"order": "desc"})
        assert "order" in error_of(response, 400)["details"]

    @pytest.mark.parametrize("order", ["oldest", "newest"])
    def test_a_deleted_or_unknown_session_has_no_messages_in_either_order(
        self, auth_client, start_session, send, order
    ):
        session_id = start_session()["session_id"]
        send(session_id, "soon gone")
        assert auth_client.delete(f"{SESSIONS}/{session_id}").status_code == 202
        for missing in (session_id, str(ULID())):
            response = auth_client.get(messages_url(missing), {"order": order})
            assert error_of(response, 404)["code"] == "not_found"

    def test_a_message_of_exactly_the_maximum_length_is_accepted(self, start_session, send):
        session_id = start_session()["session_id"]
        response = send(session_id, "a" * 4000)
        assert response.status_code == 201
        assert len(response.json()["message"]["content"]) == 4000

    def test_the_offline_reply_is_grounded_in_the_persons_scan_and_plan(
        self, auth_client, start_session, send
    ):
        store_scan_and_plan(user_id_of(auth_client), marker="Aurora", redness=41)
        session_id = start_session()["session_id"]
        reply = send(session_id, "What is my routine?").json()["reply"]["content"]
        assert "redness (41)" in reply
        assert "Aurora gentle cleanser" in reply
        assert "Aurora azelaic acid cream" in reply

    def test_a_new_plan_of_several_actives_is_told_as_its_first_week(
        self, auth_client, start_session, send
    ):
        concerns = {"skin_concerns": ["acne", "pigmentation"]}
        assert auth_client.patch("/api/v1/users/me", concerns, format="json").status_code == 200
        plan = auth_client.post("/api/v1/plans", {}, format="json")
        assert plan.status_code == 201, plan.content
        steps = plan.json()["am"] + plan.json()["pm"]
        later = [step["name"] for step in steps if step["start_week"] > 1]
        assert later  # the rules bring in one new active at a time
        session_id = start_session()["session_id"]
        reply = send(session_id, "What is in my plan this week?").json()["reply"]["content"]
        (told,) = [part for part in reply.split("\n\n") if part.startswith("Your active plan")]
        assert "in week 1 of" in told
        routine, to_come = told.split("Not yet", 1)
        for name in later:
            assert name not in routine
            assert name in to_come

    def test_a_plan_taken_up_again_after_a_month_away_is_told_as_the_week_it_is_in(
        self, auth_client, start_session, send
    ):
        plan = auth_client.post("/api/v1/plans", {}, format="json").json()
        taken_up_again(auth_client, plan, began=45, stopped=35)  # followed 11 days
        session_id = start_session()["session_id"]
        reply = send(session_id, "Which week am I in?").json()["reply"]["content"]
        (told,) = [part for part in reply.split("\n\n") if part.startswith("Your active plan")]
        assert "in week 2 of" in told  # day 12 followed; the 46th since it was made

    def test_the_reply_knows_the_plan_s_recent_check_ins_read_with_the_plan(
        self, auth_client, start_session, send
    ):
        plan = auth_client.post("/api/v1/plans", {}, format="json").json()
        user_id = user_id_of(auth_client)
        backdate(user_id, plan["plan_id"], created_at=days_ago(40))
        # Six days of check-ins, irritation rising; one from five weeks ago is not recent.
        for day, irritation, done in [(33, 5, False), (5, 0, True), (4, 0, True), (3, 1, True)]:
            check_in(auth_client, plan["plan_id"], day, irritation, am_done=done)
        for day, irritation in [(2, 3), (1, 4), (0, 4)]:
            check_in(auth_client, plan["plan_id"], day, irritation, am_done=False)
        session_id = start_session()["session_id"]
        with measure_dynamodb() as usage:
            reply = send(session_id, "How is my plan going?").json()["reply"]["content"]
        assert "In the last 28 days you checked in on 6 days and did 9 of their 12 routines." in (
            reply
        )
        assert "Your irritation has been rising (latest 4/5)" in reply
        # The plan and those days' check-ins in one BatchGetItem (their keys are known),
        # after the one of the session, account and pointer; the one Query is the latest
        # scan's (a new session has no history to read).
        assert usage.calls_by_operation["BatchGetItem"] == 2
        assert usage.calls_by_operation["Query"] == 1, usage.calls_by_operation
        # The plan's own adherence says the same of its irritation.
        adherence = auth_client.get(f"/api/v1/plans/{plan['plan_id']}").json()["adherence"]
        assert adherence["irritation_rising"] is True

    def test_a_plan_taken_up_again_today_is_told_from_today_not_its_paused_days(
        self, auth_client, start_session, send
    ):
        plan = auth_client.post("/api/v1/plans", {}, format="json").json()
        taken_up_again(auth_client, plan, began=40, stopped=30)
        check_in(auth_client, plan["plan_id"], 20, 1, am_done=True)  # during the pause
        session_id = start_session()["session_id"]
        reply = send(session_id, "How is my plan going?").json()["reply"]["content"]
        assert "You have not checked in yet today" in reply
        assert "28 days" not in reply

    def test_a_paused_plan_is_not_taken_for_none(self, auth_client, start_session, send):
        session_id = start_session()["session_id"]
        before = send(session_id, "What is my plan?").json()["reply"]["content"]
        assert "You have no active plan yet" in before
        plan = auth_client.post("/api/v1/plans", {}, format="json").json()
        url = f"/api/v1/plans/{plan['plan_id']}"
        paused_plan = auth_client.patch(url, {"status": "paused", "version": plan["version"]})
        assert paused_plan.status_code == 200, paused_plan.content
        with measure_dynamodb() as usage:
            paused = send(session_id, "How is my plan going?").json()["reply"]["content"]
        assert "You have no active plan now: yours is paused or done" in paused
        assert "take it up again" in paused
        assert usage.calls_by_operation["BatchGetItem"] == 1  # its counts came with the rest

    @pytest.mark.parametrize("session_since", [False, True], ids=["no counts", "a session since"])
    def test_an_account_older_than_its_counts_with_a_paused_plan_is_not_told_it_has_none(
        self, auth_client, start_session, send, session_since
    ):
        plan = auth_client.post("/api/v1/plans", {}, format="json").json()
        url = f"/api/v1/plans/{plan['plan_id']}"
        paused_plan = auth_client.patch(url, {"status": "paused", "version": plan["version"]})
        assert paused_plan.status_code == 200, paused_plan.content
        session_id = start_session()["session_id"]
        # As the account stood before the counts existed: no activity item; starting a
        # session then makes one that holds only what changed since, with no plans count.
        users_table().call("delete_item", Key=activity_key(user_id_of(auth_client)))
        if session_since:
            start_session()
        first = send(session_id, "What is my plan?").json()["reply"]["content"]
        assert "You have no active plan now: yours is paused or done" in first
        # Counted once, then kept: the next message reads the counts with the rest.
        with measure_dynamodb() as usage:
            later = send(session_id, "How is my plan going?").json()["reply"]["content"]
        assert "You have no active plan now: yours is paused or done" in later
        assert usage.calls_by_operation["BatchGetItem"] == 1
        assert account_activity(user_id_of(auth_client)).plans == 1

    def test_a_red_flag_message_is_sent_to_a_dermatologist_or_urgent_care(
        self, start_session, send
    ):
        session_id = start_session()["session_id"]
        reply = send(session_id, "A mole on my back is changing and bleeding").json()["reply"]
        assert "dermatologist" in reply["content"]
        assert "urgent care" in reply["content"]


def taken_up_again(client, plan: dict, *, began: int, stopped: int) -> None:
    """The plan as if made ``began`` days ago, paused ``stopped`` days ago and made
    active again today."""
    url = f"/api/v1/plans/{plan['plan_id']}"
    user_id = user_id_of(client)
    backdate(user_id, plan["plan_id"], created_at=days_ago(began))
    paused = client.patch(url, {"status": "paused", "version": plan["version"]}).json()
    backdate(user_id, plan["plan_id"], inactive_since=days_ago(stopped))
    resumed = client.patch(url, {"status": "active", "version": paused["version"]})
    assert resumed.status_code == 200, resumed.content


def check_in(client, plan_id: str, days: int, irritation: int, *, am_done: bool) -> None:
    body = {"date": days_ago(days), "am_done": am_done, "pm_done": True, "irritation": irritation}
    response = client.post(f"/api/v1/plans/{plan_id}/check-ins", body, format="json")
    assert response.status_code in (200, 201), response.content


class TestDeleting:
    def test_deleting_a_session_removes_it_and_every_message(
        self, auth_client, start_session, send
    ):
        session_id = start_session()["session_id"]
        kept_id = start_session()["session_id"]
        for number in range(14):  # 28 messages: more than one batch of 25
            assert send(session_id, f"message {number}").status_code == 201
        assert send(kept_id, "keep me").status_code == 201
        response = auth_client.delete(f"{SESSIONS}/{session_id}")
        assert response.status_code == 202
        # Without a queue the job runs before the answer: it is done already.
        job = response.json()
        assert (job["status"], job["done_items"], job["subject_id"]) == ("done", 28, session_id)
        assert response["Location"] == job["url"] == f"/api/v1/jobs/{job['job_id']}"
        assert auth_client.get(job["url"]).json()["status"] == "done"
        assert error_of(auth_client.get(f"{SESSIONS}/{session_id}"), 404)["code"] == "not_found"
        assert error_of(auth_client.get(messages_url(session_id)), 404)["code"] == "not_found"
        assert error_of(auth_client.delete(f"{SESSIONS}/{session_id}"), 404)
        stored = partition_items(user_id_of(auth_client))
        assert {item["session_id"]["S"] for item in stored} == {kept_id}
        listed = auth_client.get(SESSIONS).json()["items"]
        assert [s["session_id"] for s in listed] == [kept_id]
        assert len(all_messages(auth_client, kept_id)) == 2

    def test_starting_and_deleting_sessions_is_limited_per_account(
        self, auth_client, register, throttle_rates
    ):
        from rest_framework.test import APIClient

        throttle_rates(chat_sessions="3/hour")
        first = auth_client.post(SESSIONS, {}, format="json").json()["session_id"]
        second = auth_client.post(SESSIONS, {}, format="json").json()["session_id"]
        assert auth_client.delete(f"{SESSIONS}/{first}").status_code == 202

        refused = auth_client.delete(f"{SESSIONS}/{second}")
        assert error_of(refused, 429)["code"] == "throttled"
        assert int(refused["Retry-After"]) > 0
        assert error_of(auth_client.post(SESSIONS, {}, format="json"), 429)
        # Reading is not limited, and the session refused a delete is still there.
        assert auth_client.get(f"{SESSIONS}/{second}").status_code == 200
        # The limit is each account's own.
        other = APIClient()
        other.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")
        assert other.post(SESSIONS, {}, format="json").status_code == 201


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "content"),
            ({"content": ""}, "content"),
            ({"content": "   \n "}, "content"),
            ({"content": "a" * 4001}, "content"),
            ({"content": None}, "content"),
            ({"content": "hi", "role": "assistant"}, "role"),
            ({"content": "hi", "session_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, "session_id"),
            ({"content": 42}, "content"),
            ({"content": 0.5}, "content"),
            ({"content": ["hi"]}, "content"),
        ],
        ids=[
            *("missing", "empty", "blank", "4001-chars", "null", "role", "session-id"),
            *("number", "fraction", "list"),
        ],
    )
    def test_bad_message_content_is_400_and_nothing_is_stored(
        self, auth_client, start_session, body, field
    ):
        session_id = start_session()["session_id"]
        response = auth_client.post(messages_url(session_id), body, format="json")
        error = error_of(response, 400)
        assert error["code"] == "invalid"
        assert field in error["details"]
        assert all_messages(auth_client, session_id) == []

    def test_an_unknown_field_when_starting_a_session_is_400(self, auth_client):
        response = auth_client.post(SESSIONS, {"title": "t", "user_id": "x"}, format="json")
        assert "user_id" in error_of(response, 400)["details"]

    def test_a_title_longer_than_120_characters_is_400(self, auth_client):
        response = auth_client.post(SESSIONS, {"title": "t" * 121}, format="json")
        assert "title" in error_of(response, 400)["details"]

    @pytest.mark.parametrize(
        "session_id",
        ["not-a-ulid", "01arz3ndektsv4rrffq69g5fav", "01ARZ3NDEKTSV4RRFFQ69G5FA", "0" * 27],
        ids=["words", "lower-case", "25-chars", "27-chars"],
    )
    @pytest.mark.parametrize(
        ("method", "suffix"),
        [("get", ""), ("delete", ""), ("get", "/messages"), ("post", "/messages")],
    )
    def test_a_malformed_session_id_is_404_on_every_endpoint(
        self, auth_client, session_id, method, suffix
    ):
        url = f"{SESSIONS}/{session_id}{suffix}"
        response = getattr(auth_client, method)(url, {"content": "hi"}, format="json")
        assert error_of(response, 404)["code"] == "not_found"

    def test_a_tampered_cursor_is_400(self, auth_client, start_session):
        session_id = start_session()["session_id"]
        response = auth_client.get(messages_url(session_id), {"cursor": "tampered"})
        assert error_of(response, 400)["code"] == "invalid_cursor"

    def test_a_limit_out_of_range_is_400(self, auth_client):
        assert "limit" in error_of(auth_client.get(SESSIONS, {"limit": 0}), 400)["details"]

    def test_a_signed_out_client_is_401(self, api_client, start_session):
        session_id = start_session()["session_id"]
        response = api_client.post(messages_url(session_id), {"content": "hi"}, format="json")
        assert error_of(response, 401)["code"] == "not_authenticated"


class TestIsolation:
    def test_another_user_gets_404_on_every_chat_endpoint_with_my_ids(
        self, auth_client, other_client, start_session, send
    ):
        session_id = start_session(title="Mine")["session_id"]
        send(session_id, "my private question")
        session_url = f"{SESSIONS}/{session_id}"
        attempts = [
            other_client.get(session_url),
            other_client.get(messages_url(session_id)),
            other_client.post(messages_url(session_id), {"content": "hi"}, format="json"),
            other_client.delete(session_url),
        ]
        for response in attempts:
            assert error_of(response, 404)["code"] == "not_found"
        assert other_client.get(SESSIONS).json()["items"] == []
        assert partition_items(user_id_of(other_client)) == []
        mine = all_messages(auth_client, session_id)
        assert mine[0]["content"] == "my private question"
        assert len(mine) == 2

    def test_my_cursor_is_refused_to_another_user(
        self, auth_client, other_client, start_session, send
    ):
        session_id = start_session()["session_id"]
        for number in range(2):
            send(session_id, f"q{number}")
        cursor = auth_client.get(messages_url(session_id), {"limit": 1}).json()["next_cursor"]
        response = other_client.get(messages_url(session_id), {"cursor": cursor})
        assert error_of(response, 400)["code"] == "invalid_cursor"


class TestDailyCap:
    def test_replies_past_the_daily_cap_are_429_with_retry_after_and_not_stored(
        self, auth_client, start_session, send, settings
    ):
        settings.AI_REPLIES_PER_DAY = 2
        session_id = start_session()["session_id"]
        assert send(session_id, "one").status_code == 201
        assert send(session_id, "two").status_code == 201
        response = send(session_id, "three")
        error = error_of(response, 429)
        assert error["code"] == "chat_quota_exceeded"
        assert error["details"] == {
            "limit_per_day": 2,
            "retry_after_seconds": int(response["Retry-After"]),
        }
        assert 0 < int(response["Retry-After"]) <= 24 * 60 * 60
        assert [m["content"] for m in all_messages(auth_client, session_id)][::2] == [
            "one",
            "two",
        ]

    def test_the_cap_is_per_user(self, other_client, start_session, send, settings):
        settings.AI_REPLIES_PER_DAY = 1
        mine = start_session()["session_id"]
        assert send(mine, "one").status_code == 201
        assert send(mine, "two").status_code == 429
        theirs = start_session(client=other_client)["session_id"]
        assert send(theirs, "one", client=other_client).status_code == 201


class TestEventStream:
    def test_with_accept_event_stream_the_reply_streams_and_is_stored_when_complete(
        self, auth_client, start_session, send
    ):
        session_id = start_session()["session_id"]
        response = send(session_id, "Any tips for oily skin?", HTTP_ACCEPT="text/event-stream")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/event-stream")
        assert response["Cache-Control"] == "no-cache"
        events = events_of(response)
        names = [name for name, _ in events]
        assert names[0] == "message" and names[-1] == "reply"
        assert set(names[1:-1]) == {"delta"} and len(names) > 3
        message, reply = events[0][1], events[-1][1]
        assert message["content"] == "Any tips for oily skin?"
        streamed = "".join(data["text"] for name, data in events if name == "delta")
        assert streamed == reply["content"]
        assert all_messages(auth_client, session_id) == [message, reply]

    def test_a_reply_is_stored_whole_even_if_the_client_leaves_mid_stream(
        self, auth_client, start_session, send
    ):
        session_id = start_session()["session_id"]
        response, _ = reply_under_way(send, session_id)
        response.close()
        listed = all_messages(auth_client, session_id)
        assert [m["role"] for m in listed] == ["user", "assistant"]
        assert "not a diagnosis" in listed[1]["content"]

    def test_a_reply_is_stored_whole_even_if_the_client_leaves_before_its_first_piece(
        self, auth_client, start_session, send
    ):
        session_id = start_session()["session_id"]
        response = send(session_id, "What helps redness?", HTTP_ACCEPT="text/event-stream")
        stream = iter(response.streaming_content)
        assert next(stream).startswith(b"event: message")
        response.close()  # gone before a single piece of the reply was sent
        listed = all_messages(auth_client, session_id)
        assert [m["role"] for m in listed] == ["user", "assistant"]
        assert "not a diagnosis" in listed[1]["content"]

    def test_a_session_deleted_while_its_reply_streams_ends_with_an_error_event(
        self, auth_client, start_session, send
    ):
        session_id = start_session()["session_id"]
        _, stream = reply_under_way(send, session_id)
        assert auth_client.delete(f"{SESSIONS}/{session_id}").status_code == 202
        rest = [block for chunk in stream for block in chunk.decode().split("\n\n") if block]
        name, data = rest[-1].split("\n")
        assert name == "event: error"
        assert json.loads(data.removeprefix("data: "))["error"]["code"] == "not_found"

    def test_a_streamed_reply_that_cannot_be_stored_ends_with_an_error_event(
        self, auth_client, start_session, send, monkeypatch
    ):
        table = type(chat_table())
        add_message = table.add_message

        def failing_for_replies(self, message, **kwargs):
            if message.role == "assistant":
                raise Unavailable("DynamoDB is unavailable.")
            return add_message(self, message, **kwargs)

        monkeypatch.setattr(table, "add_message", failing_for_replies)
        session_id = start_session()["session_id"]
        response = send(session_id, "What helps redness?", HTTP_ACCEPT="text/event-stream")
        events = events_of(response)
        assert [name for name, _ in events][-1] == "error"
        error = events[-1][1]
        assert error["error"]["code"] == "reply_not_stored"
        assert 5 <= error["retry_after_seconds"] <= 8
        assert error["error"]["details"] == {"message_id": events[0][1]["message_id"]}
        assert [m["role"] for m in all_messages(auth_client, session_id)] == ["user"]
        # Sent again, it is retried: the one message, and now its reply.
        monkeypatch.setattr(table, "add_message", add_message)
        again = send(session_id, "What helps redness?")
        assert again.status_code == 201, again.content
        assert [m["role"] for m in all_messages(auth_client, session_id)] == ["user", "assistant"]

    def test_bad_input_asked_as_a_stream_is_a_json_400(self, start_session, send):
        session_id = start_session()["session_id"]
        response = send(session_id, "", HTTP_ACCEPT="text/event-stream")
        assert error_of(response, 400)["code"] == "invalid"

    def test_a_missing_session_asked_as_a_stream_is_a_json_404(self, send):
        response = send("01ARZ3NDEKTSV4RRFFQ69G5FAV", "hi", HTTP_ACCEPT="text/event-stream")
        assert error_of(response, 404)["code"] == "not_found"
