"""Streamed replies at the service layer: a client that leaves, a provider that breaks."""

import json

import pytest

from ai.chat import ChatFailed
from chat import services
from chat.tests.helpers import messages_url, user_id_of
from dynamo.chat import chat_table
from dynamo.users import users_table


class BreaksMidway:
    """A chat provider whose stream stops with a failure after its first piece."""

    def reply(self, **kwargs) -> str:
        raise AssertionError("only streaming is used here")

    def stream_reply(self, **kwargs):
        yield "Start with a gentle "
        raise ChatFailed("provider_unavailable", "connection reset")


@pytest.fixture
def me(auth_client):
    return users_table().get(user_id_of(auth_client))


def stored(user_id: str, session_id: str) -> list[tuple[str, str]]:
    page = chat_table().query_session(user_id, session_id, limit=100)
    return [(m.role, m.content) for m in page.items]


def test_a_reply_whose_client_left_mid_stream_is_still_stored_whole(me, start_session):
    session_id = start_session()["session_id"]
    _, events = services.stream_message(
        user=me, session_id=session_id, content="Tips for dry skin?"
    )
    first = next(events)
    assert isinstance(first, services.ReplyPiece)
    events.close()
    (question, reply) = stored(me.user_id, session_id)
    assert question == ("user", "Tips for dry skin?")
    assert reply[0] == "assistant"
    assert reply[1].startswith(first.text) and len(reply[1]) > len(first.text)
    assert "offline assistant" in reply[1]


def test_a_stream_that_breaks_midway_ends_with_an_error_event_and_keeps_my_message(
    auth_client, start_session, send, monkeypatch
):
    monkeypatch.setattr(services, "chat_provider", BreaksMidway)
    session_id = start_session()["session_id"]
    response = send(session_id, "Routine?", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 200
    blocks = [b for b in b"".join(response.streaming_content).decode().split("\n\n") if b]
    events = [
        (b.split("\n")[0].removeprefix("event: "), json.loads(b.split("data: ", 1)[1]))
        for b in blocks
    ]
    assert [name for name, _ in events] == ["message", "delta", "error"]
    error = events[-1][1]
    assert error["error"]["code"] == "assistant_unavailable"
    assert error["error"]["details"]["reason"] == "provider_unavailable"
    assert 5 <= error["retry_after_seconds"] <= 8
    listed = auth_client.get(messages_url(session_id)).json()["items"]
    assert [(m["role"], m["content"]) for m in listed] == [("user", "Routine?")]


def test_a_provider_that_crashes_is_a_503_and_keeps_my_message(
    auth_client, start_session, send, monkeypatch
):
    class Crashes:
        def reply(self, **kwargs) -> str:
            raise RuntimeError("a bug in a provider")

    monkeypatch.setattr(services, "chat_provider", Crashes)
    session_id = start_session()["session_id"]
    response = send(session_id, "Hello")
    assert response.status_code == 503
    assert response.json()["error"]["details"]["reason"] == "provider_unavailable"
    listed = auth_client.get(messages_url(session_id)).json()["items"]
    assert [m["content"] for m in listed] == ["Hello"]


def test_a_message_to_a_session_deleted_meanwhile_is_not_stored(me, start_session):
    session_id = start_session()["session_id"]
    services.delete_session(user_id=me.user_id, session_id=session_id)
    with pytest.raises(services.ChatSessionNotFound):
        services.store_message(
            user_id=me.user_id, session_id=session_id, role="user", content="late"
        )
    assert stored(me.user_id, session_id) == []


def test_the_reply_is_grounded_in_the_profile_as_stored_not_a_workers_copy(me):
    # Another worker records a pregnancy after this one read the user (``me``).
    users_table().call(
        "update_item",
        Key={"user_id": {"S": me.user_id}},
        UpdateExpression="SET pregnant_or_breastfeeding = :yes, skin_type = :oily",
        ExpressionAttributeValues={":yes": {"BOOL": True}, ":oily": {"S": "oily"}},
    )

    session = services.start_session(user_id=me.user_id, title=None)
    _, context, _, _ = services.prepare_exchange(
        user=me, session_id=session.session_id, content="Is retinol fine for me now?"
    )

    assert me.pregnant_or_breastfeeding is None
    assert context.pregnant_or_breastfeeding is True
    assert context.skin_type == "oily"


def test_a_first_message_reads_no_history_and_the_next_one_reads_the_conversation(
    start_session, send, monkeypatch
):
    """A session's item counts its messages: the first message skips the Query of the
    recent messages (there are none); every later one reads them."""
    from dynamo.client import get_client

    histories = []

    class Recording:
        def reply(self, *, context, history, message) -> str:
            histories.append([(turn.role, turn.content) for turn in history])
            return f"About {message}: keep it gentle."

    queried = []

    def count(params, model, **kwargs):
        if model.name == "Query" and params.get("TableName") == chat_table().name:
            queried.append(params)

    monkeypatch.setattr(services, "chat_provider", Recording)
    events = get_client().meta.events
    events.register("provide-client-params.dynamodb", count)
    try:
        session_id = start_session()["session_id"]
        assert send(session_id, "Is retinol fine?").status_code == 201
        first_queries = len(queried)
        assert send(session_id, "And in summer?").status_code == 201
    finally:
        events.unregister("provide-client-params.dynamodb", count)

    assert first_queries == 0
    assert len(queried) == 1
    assert histories == [
        [],
        [("user", "Is retinol fine?"), ("assistant", "About Is retinol fine?: keep it gentle.")],
    ]
