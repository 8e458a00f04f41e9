"""A chat message sent again with its Idempotency-Key: asked once, counted once.

A phone that loses the answer to a message (a reply Gemini took seconds to write) sends
it again. With the same key, the retry gets the exchange stored the first time: no
second Gemini call, no second reply counted, no second message in the conversation.
"""

import dataclasses
import json
import time

import pytest
from ulid import ULID

from chat import services
from chat.tests.helpers import SESSIONS, messages_url
from dynamo.errors import Unavailable
from dynamo.jobs import jobs_table
from dynamo.request_keys import RequestKey, find_key, item_key
from scans.tests.test_api import upload_with_key
from tests.at_once import at_once
from tests.fake_gemini import FakeResponse
from tests.openapi import assert_documents_the_key, openapi_operation
from tests.photos import astronaut, encode

KEY = "0b6f2d1e-one-message"
STREAM = {"HTTP_ACCEPT": "text/event-stream"}


def keyed(key: str = KEY) -> dict[str, str]:
    return {"HTTP_IDEMPOTENCY_KEY": key}


def events_of(response) -> list[tuple[str, dict]]:
    text = b"".join(response.streaming_content).decode()
    blocks = [block for block in text.split("\n\n") if block.strip()]
    return [
        (b.split("\n")[0].removeprefix("event: "), json.loads(b.split("data: ", 1)[1]))
        for b in blocks
    ]


def conversation(client, session_id: str) -> list[tuple[str, str]]:
    items = client.get(messages_url(session_id), {"limit": 100}).json()["items"]
    return [(m["role"], m["content"]) for m in items]


def assert_replayed(gemini_chat, fake_gemini, content: str, answered) -> None:
    """A retry with the key now gets ``answered``'s exchange: 200, no Gemini call."""
    asked = len(fake_gemini.requests)
    again = gemini_chat(content, **keyed())
    assert again.status_code == 200, again.content
    assert again.json() == answered.json()
    assert len(fake_gemini.requests) == asked


@pytest.fixture
def one_reply_a_day(settings):
    settings.AI_REPLIES_PER_DAY = 1


def test_a_retry_of_a_lost_answer_gets_the_same_exchange_and_asks_nobody(
    gemini_chat, fake_gemini, auth_client, one_reply_a_day
):
    first = gemini_chat(
        "Why is my skin red?", FakeResponse.text_answer("Often irritation."), **keyed()
    )
    assert first.status_code == 201, first.content

    assert_replayed(gemini_chat, fake_gemini, "Why is my skin red?", first)
    assert conversation(auth_client, gemini_chat.session_id) == [
        ("user", "Why is my skin red?"),
        ("assistant", "Often irritation."),
    ]
    # The day's one reply was counted once: the replay did not spend another.
    other = gemini_chat("And my dry patches?", FakeResponse.text_answer("Moisturise."))
    assert other.status_code == 429


def test_a_streamed_retry_replays_the_stored_reply_and_a_plain_one_a_streamed_first(
    gemini_chat, fake_gemini, auth_client
):
    first = gemini_chat("Routine?", FakeResponse.text_answer("Cleanse, then SPF."), **keyed())
    assert first.status_code == 201
    streamed = gemini_chat("Routine?", **keyed(), **STREAM)
    assert streamed.status_code == 200
    events = events_of(streamed)
    assert [name for name, _ in events] == ["message", "delta", "reply"]
    assert events[0][1] == first.json()["message"]
    assert events[1][1] == {"text": "Cleanse, then SPF."}
    assert events[2][1] == first.json()["reply"]

    second = "a2"
    opened = events_of(
        gemini_chat("Sunscreen?", FakeResponse.text_answer("Every day."), **keyed(second), **STREAM)
    )
    asked = len(fake_gemini.requests)
    plain = gemini_chat("Sunscreen?", **keyed(second))
    assert plain.status_code == 200
    assert plain.json() == {"message": opened[0][1], "reply": opened[-1][1]}
    assert len(fake_gemini.requests) == asked
    assert len(conversation(auth_client, gemini_chat.session_id)) == 4


def test_the_key_with_another_text_or_session_is_a_422(
    gemini_chat, auth_client, start_session, send
):
    assert (
        gemini_chat("Why is my skin red?", FakeResponse.text_answer("x"), **keyed()).status_code
        == 201
    )
    other_text = gemini_chat("Why is my skin dry?", **keyed())
    assert other_text.status_code == 422
    assert other_text.json()["error"]["code"] == "idempotency_key_reused"
    other_session = start_session()["session_id"]
    elsewhere = send(other_session, "Why is my skin red?", **keyed())
    assert elsewhere.status_code == 422
    assert conversation(auth_client, other_session) == []


def test_copies_sent_together_ask_the_assistant_once(gemini_chat, fake_gemini, auth_client, send):
    slow = dataclasses.replace(FakeResponse.text_answer("Patience."), delay_seconds=1.5)
    fake_gemini.enqueue(slow)

    def copy():
        return send(gemini_chat.session_id, "Is this working?", **keyed())

    answers = at_once(copy, threads=4)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201, 409, 409, 409]
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["error"]["code"] == "idempotency_key_in_flight"
        assert 5 <= int(refused["Retry-After"]) <= 8
    assert len(fake_gemini.requests) == 1
    assert conversation(auth_client, gemini_chat.session_id) == [
        ("user", "Is this working?"),
        ("assistant", "Patience."),
    ]
    # Once answered, a copy gets the answer.
    assert send(gemini_chat.session_id, "Is this working?", **keyed()).status_code == 200


def test_after_a_failed_attempt_the_key_asks_again_for_the_same_message(
    gemini_chat, fake_gemini, auth_client
):
    failed = gemini_chat("Why is my skin red?", *[FakeResponse.status(500)] * 3, **keyed())
    assert failed.status_code == 503
    retried = gemini_chat("Why is my skin red?", FakeResponse.text_answer("Irritation."), **keyed())
    assert retried.status_code == 201, retried.content
    assert (
        retried.json()["message"]["message_id"] == failed.json()["error"]["details"]["message_id"]
    )
    assert conversation(auth_client, gemini_chat.session_id) == [
        ("user", "Why is my skin red?"),
        ("assistant", "Irritation."),
    ]
    assert gemini_chat("Why is my skin red?", **keyed()).json() == retried.json()


@pytest.mark.parametrize(("held_for", "status"), [(-1, 201), (60, 409)])
def test_an_attempt_that_died_holds_its_key_only_until_its_hold_ends(
    gemini_chat, fake_gemini, auth_client, held_for, status
):
    # A worker that stopped mid-call left its message stored and the key held.
    session_id = gemini_chat.session_id
    user_id = auth_client.session_data["user"]["user_id"]
    message_id = str(ULID())
    services.store_message(
        user_id=user_id,
        session_id=session_id,
        role="user",
        content="Left hanging?",
        message_id=message_id,
        claiming=RequestKey(
            user_id=user_id,
            kind=services.CHAT_KEYS,
            key=KEY,
            request_digest=services.message_digest(session_id, "Left hanging?"),
            subject_id=message_id,
            held_until=int(time.time()) + held_for,
            session_id=session_id,
        ),
    )

    retried = gemini_chat("Left hanging?", FakeResponse.text_answer("Here now."), **keyed())

    assert retried.status_code == status, retried.content
    if status == 201:
        assert retried.json()["message"]["message_id"] == message_id
        assert len(fake_gemini.requests) == 1
        assert conversation(auth_client, session_id) == [
            ("user", "Left hanging?"),
            ("assistant", "Here now."),
        ]
    else:
        assert fake_gemini.requests == []
        assert conversation(auth_client, session_id) == [("user", "Left hanging?")]


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_a_key_that_is_empty_or_too_long_is_a_400(gemini_chat, key):
    response = gemini_chat("Hello?", **keyed(key))
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]


def test_the_stored_key_holds_no_text_and_expires_within_a_day(gemini_chat, auth_client):
    text = "My private question about a rash"
    assert (
        gemini_chat(text, FakeResponse.text_answer("Private answer."), **keyed()).status_code == 201
    )
    user_id = auth_client.session_data["user"]["user_id"]
    item = jobs_table().get_item(item_key(user_id, services.CHAT_KEYS, KEY), consistent=True)
    assert item is not None
    values = " ".join(str(value) for value in item.values())
    assert "rash" not in values and "Private answer" not in values
    assert KEY not in values
    assert 0 < int(item["expires_at"]["N"]) - time.time() <= 24 * 60 * 60


def test_an_upload_and_a_message_may_carry_the_same_key(gemini_chat, auth_client):
    upload = upload_with_key(auth_client, encode(astronaut()), KEY)
    assert upload.status_code in (201, 202), upload.content
    message = gemini_chat("Hello?", FakeResponse.text_answer("Hi."), **keyed())
    assert message.status_code == 201, message.content


def test_a_deleted_session_has_nothing_to_replay(gemini_chat, auth_client):
    assert gemini_chat("Hello?", FakeResponse.text_answer("Hi."), **keyed()).status_code == 201
    assert auth_client.delete(f"{SESSIONS}/{gemini_chat.session_id}").status_code == 202
    again = gemini_chat("Hello?", **keyed())
    assert again.status_code == 404


def test_deleting_a_session_deletes_its_keys_and_keeps_the_others(
    gemini_chat, fake_gemini, auth_client, start_session, send
):
    user_id = auth_client.session_data["user"]["user_id"]
    assert gemini_chat("Hello?", FakeResponse.text_answer("Hi."), **keyed()).status_code == 201
    kept = start_session()["session_id"]
    fake_gemini.enqueue(FakeResponse.text_answer("Still here."))
    assert send(kept, "Another?", **keyed("kept-key")).status_code == 201

    assert auth_client.delete(f"{SESSIONS}/{gemini_chat.session_id}").status_code == 202

    assert find_key(user_id, services.CHAT_KEYS, KEY) is None
    assert find_key(user_id, services.CHAT_KEYS, "kept-key") is not None


def test_a_keyed_retry_of_a_message_kept_after_a_failure_reuses_it(
    gemini_chat, fake_gemini, auth_client
):
    # The first try carried no key (or another one) and failed: its message is kept.
    failed = gemini_chat("Why is my skin red?", *[FakeResponse.status(500)] * 3)
    assert failed.status_code == 503
    kept = failed.json()["error"]["details"]["message_id"]

    retried = gemini_chat("Why is my skin red?", FakeResponse.text_answer("Irritation."), **keyed())

    assert retried.status_code == 201, retried.content
    assert retried.json()["message"]["message_id"] == kept
    assert conversation(auth_client, gemini_chat.session_id) == [
        ("user", "Why is my skin red?"),
        ("assistant", "Irritation."),
    ]
    asked = len(fake_gemini.requests)
    assert gemini_chat("Why is my skin red?", **keyed()).json() == retried.json()
    assert len(fake_gemini.requests) == asked


def test_a_key_whose_message_was_answered_by_a_retry_without_it_replays_that_reply(
    gemini_chat, fake_gemini, auth_client, one_reply_a_day
):
    failed = gemini_chat("Why is my skin red?", *[FakeResponse.status(500)] * 3, **keyed())
    assert failed.status_code == 503
    unkeyed = gemini_chat("Why is my skin red?", FakeResponse.text_answer("Irritation."))
    assert unkeyed.status_code == 201, unkeyed.content

    assert_replayed(gemini_chat, fake_gemini, "Why is my skin red?", unkeyed)
    assert conversation(auth_client, gemini_chat.session_id) == [
        ("user", "Why is my skin red?"),
        ("assistant", "Irritation."),
    ]


def test_a_refused_message_lets_its_key_go_and_a_retry_asks_again(
    gemini_chat, fake_gemini, auth_client
):
    refused = gemini_chat("Is this rash bad?", FakeResponse.safety_block(), **keyed())
    assert refused.status_code == 422, refused.content
    kept = refused.json()["error"]["details"]["message_id"]

    retried = gemini_chat("Is this rash bad?", FakeResponse.text_answer("See a GP."), **keyed())

    assert retried.status_code == 201, retried.content
    assert retried.json()["message"]["message_id"] == kept
    assert len(fake_gemini.requests) == 2
    assert conversation(auth_client, gemini_chat.session_id) == [
        ("user", "Is this rash bad?"),
        ("assistant", "See a GP."),
    ]
    assert_replayed(gemini_chat, fake_gemini, "Is this rash bad?", retried)


def test_a_key_refused_by_the_days_quota_runs_once_the_quota_allows(
    gemini_chat, fake_gemini, auth_client, settings, one_reply_a_day
):
    assert gemini_chat("First?", FakeResponse.text_answer("One.")).status_code == 201
    refused = gemini_chat("Second?", **keyed())
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "chat_quota_exceeded"
    settings.AI_REPLIES_PER_DAY = 2

    retried = gemini_chat("Second?", FakeResponse.text_answer("Two."), **keyed())

    assert retried.status_code == 201, retried.content
    assert len(fake_gemini.requests) == 2
    assert conversation(auth_client, gemini_chat.session_id)[2:] == [
        ("user", "Second?"),
        ("assistant", "Two."),
    ]
    assert_replayed(gemini_chat, fake_gemini, "Second?", retried)


LONG_REPLY = "Cleanse gently at night, moisturise after, and wear sunscreen every morning."


def leave_after_the_first_piece(response) -> None:
    stream = iter(response.streaming_content)
    assert next(stream).startswith(b"event: message")
    assert next(stream).startswith(b"event: delta")
    response.close()


def test_a_stream_left_mid_reply_is_stored_and_a_retry_replays_it(
    gemini_chat, fake_gemini, auth_client
):
    slow = dataclasses.replace(FakeResponse.text_answer(LONG_REPLY), chunk_delay_seconds=0.05)
    leave_after_the_first_piece(gemini_chat("Routine?", slow, **keyed(), **STREAM))

    again = gemini_chat("Routine?", **keyed())

    assert again.status_code == 200, again.content
    assert again.json()["reply"]["content"] == LONG_REPLY
    assert len(fake_gemini.requests) == 1
    assert conversation(auth_client, gemini_chat.session_id) == [
        ("user", "Routine?"),
        ("assistant", LONG_REPLY),
    ]


def test_a_stream_left_whose_reply_was_not_stored_lets_its_key_go(
    gemini_chat, fake_gemini, auth_client, monkeypatch
):
    store_reply = services.store_reply

    def unavailable(*args, **kwargs):
        raise Unavailable("DynamoDB is unavailable.")

    monkeypatch.setattr(services, "store_reply", unavailable)
    leave_after_the_first_piece(
        gemini_chat("Routine?", FakeResponse.text_answer(LONG_REPLY), **keyed(), **STREAM)
    )
    monkeypatch.setattr(services, "store_reply", store_reply)

    retried = gemini_chat("Routine?", FakeResponse.text_answer("Short."), **keyed())

    assert retried.status_code == 201, retried.content
    assert len(fake_gemini.requests) == 2
    assert conversation(auth_client, gemini_chat.session_id) == [
        ("user", "Routine?"),
        ("assistant", "Short."),
    ]
    assert_replayed(gemini_chat, fake_gemini, "Routine?", retried)


def test_the_schema_documents_the_key_and_what_a_retry_gets():
    operation = openapi_operation("/api/v1/chat/sessions/{session_id}/messages")
    assert_documents_the_key(operation)
    assert "message_refused" in operation["responses"]["422"]["description"]
