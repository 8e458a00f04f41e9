"""The plans and chat table managers against DynamoDB Local."""

from dataclasses import asdict
from decimal import Decimal

import pytest
from ulid import ULID

from dynamo.chat import ChatMessage, ChatSession, SessionNotFound, chat_table
from dynamo.client import get_client
from dynamo.errors import ItemNotFound, VersionConflict
from dynamo.plans import plans_table
from dynamo.tests.factories import a_plan, new_user_id

NOW = "2026-11-25T10:00:00.000Z"
LATER = "2026-11-25T10:05:00.000Z"


def test_a_plan_round_trips_with_its_nested_content():
    user_id = new_user_id()
    plan = a_plan(user_id)
    plans_table().create(plan)
    stored = plans_table().get(user_id, plan.plan_id)
    assert stored.content["goals"][0]["baseline"] == Decimal("54.5")
    assert stored.content["duration_weeks"] == 8
    assert stored.title == plan.title


def test_a_stale_plan_update_is_refused_and_changes_nothing():
    user_id = new_user_id()
    plan = a_plan(user_id)
    plans_table().create(plan)
    plans_table().update(user_id, plan.plan_id, changes={"status": "paused"}, expected_version=1)
    with pytest.raises(VersionConflict) as conflict:
        plans_table().update(
            user_id, plan.plan_id, changes={"status": "completed"}, expected_version=1
        )
    assert conflict.value.current_version == 2
    assert plans_table().get(user_id, plan.plan_id).status == "paused"


def test_plans_are_listed_newest_first_only_for_their_owner():
    owner, other = new_user_id(), new_user_id()
    created = [a_plan(owner) for _ in range(3)]
    for plan in created:
        plans_table().create(plan)
    plans_table().create(a_plan(other))
    page = plans_table().query_page(owner, limit=10)
    assert [p.plan_id for p in page.items] == [p.plan_id for p in reversed(created)]
    assert page.next_cursor is None


def test_deleting_a_missing_plan_is_not_found():
    with pytest.raises(ItemNotFound):
        plans_table().delete(str(ULID()), str(ULID()))


def message(user_id: str, session_id: str, role: str, content: str) -> ChatMessage:
    return ChatMessage(
        user_id=user_id,
        message_id=str(ULID()),
        session_id=session_id,
        role=role,
        content=content,
        created_at=NOW,
    )


def test_a_session_query_returns_only_that_sessions_messages_in_order():
    user_id = new_user_id()
    first, second = str(ULID()), str(ULID())
    written = []
    for number in range(30):
        session = first if number % 2 == 0 else second
        entry = message(user_id, session, "user", f"message {number}")
        chat_table().put(entry)
        if session == first:
            written.append(entry.message_id)
    read, cursor = [], None
    while True:
        page = chat_table().query_session(user_id, first, limit=7, cursor=cursor)
        read += [m.message_id for m in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert read == sorted(written)


def test_deleting_more_than_a_batch_of_messages_removes_them_all():
    user_id, session = new_user_id(), str(ULID())
    entries = [message(user_id, session, "assistant", f"reply {n}") for n in range(60)]
    for entry in entries:
        chat_table().put(entry)
    chat_table().delete_messages(user_id, [e.message_id for e in entries])
    assert chat_table().query_session(user_id, session, limit=100).items == []


def new_session(user_id: str, **changes) -> ChatSession:
    values = {
        "user_id": user_id,
        "session_id": str(ULID()),
        "created_at": NOW,
        "last_activity_at": NOW,
    }
    session = ChatSession(**{**values, **changes})
    chat_table().create_session(session)
    return session


def chat_items(user_id: str) -> list[dict]:
    """Every item of the user's chat partition, read straight from the table."""
    response = get_client().query(
        TableName=chat_table().name,
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
        ConsistentRead=True,
    )
    return response["Items"]


def test_sessions_are_listed_newest_first_without_messages_and_only_for_their_owner():
    owner, other = new_user_id(), new_user_id()
    sessions = [new_session(owner, title=f"chat {n}") for n in range(3)]
    new_session(other)
    chat_table().add_message(message(owner, sessions[0].session_id, "user", "hello"))
    read, cursor = [], None
    while True:
        page = chat_table().sessions_page(owner, limit=2, cursor=cursor)
        read += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [s.session_id for s in read] == [s.session_id for s in reversed(sessions)]
    assert [s.title for s in read] == ["chat 2", "chat 1", "chat 0"]


def test_adding_a_message_touches_its_session_and_names_it_only_once():
    user_id = new_user_id()
    session = new_session(user_id)
    first = message(user_id, session.session_id, "user", "first")
    chat_table().add_message(first, title="Dry patches on my cheeks")
    later = ChatMessage(**{**asdict(first), "message_id": str(ULID()), "created_at": LATER})
    chat_table().add_message(later, title="Another title")
    stored = chat_table().get_session(user_id, session.session_id, consistent=True)
    assert stored.title == "Dry patches on my cheeks"
    assert stored.message_count == 2
    assert stored.last_activity_at == LATER
    assert stored.version == 3


def test_a_message_for_a_missing_session_is_refused_and_not_stored():
    user_id = new_user_id()
    with pytest.raises(SessionNotFound):
        chat_table().add_message(message(user_id, str(ULID()), "user", "hello?"))
    assert chat_items(user_id) == []


def test_the_first_page_of_messages_brings_its_session_in_the_same_query():
    user_id = new_user_id()
    session = new_session(user_id)
    written = [message(user_id, session.session_id, "user", f"m{n}") for n in range(5)]
    for entry in written:
        chat_table().add_message(entry)
    found, page = chat_table().session_messages(user_id, session.session_id, limit=3)
    assert found.session_id == session.session_id
    assert [m.content for m in page.items] == ["m0", "m1", "m2"]
    again, rest = chat_table().session_messages(
        user_id, session.session_id, limit=3, cursor=page.next_cursor
    )
    assert again is None
    assert [m.content for m in rest.items] == ["m3", "m4"]
    assert rest.next_cursor is None


def test_another_users_session_id_finds_no_session_and_no_messages():
    owner, stranger = new_user_id(), str(ULID())
    session = new_session(owner)
    chat_table().add_message(message(owner, session.session_id, "user", "private"))
    found, page = chat_table().session_messages(stranger, session.session_id, limit=10)
    assert found is None
    assert page.items == []
    assert chat_table().get_session(stranger, session.session_id) is None


def test_deleting_a_session_removes_it_and_all_its_messages_but_no_other():
    user_id = new_user_id()
    session, kept = new_session(user_id), new_session(user_id)
    for n in range(60):
        chat_table().add_message(message(user_id, session.session_id, "user", f"m{n}"))
    chat_table().add_message(message(user_id, kept.session_id, "user", "stays"))
    chat_table().delete_session(user_id, session.session_id)
    remaining = chat_items(user_id)
    assert {item["session_id"]["S"] for item in remaining} == {kept.session_id}
    assert len(remaining) == 2  # the kept session and its message
    with pytest.raises(SessionNotFound):
        chat_table().delete_session(user_id, session.session_id)


def test_a_session_delete_interrupted_part_way_finishes_when_run_again():
    user_id = new_user_id()
    session = new_session(user_id)
    entries = [message(user_id, session.session_id, "assistant", f"r{n}") for n in range(30)]
    for entry in entries:
        chat_table().add_message(entry)
    chat_table().delete_messages(user_id, [e.message_id for e in entries[:12]])
    chat_table().delete_session(user_id, session.session_id)
    assert chat_items(user_id) == []


@pytest.fixture
def half_processed_batches():
    """DynamoDB Local gets only (the larger) half of every batch; the rest comes back as
    UnprocessedItems, as the real service may return under load."""
    events = get_client().meta.events
    held: list[tuple[str, list[dict]]] = []
    calls = {"retried": 0}

    def keep_half(params, **kwargs):
        ((table, requests),) = params["RequestItems"].items()
        half = (len(requests) + 1) // 2
        params["RequestItems"] = {table: requests[:half]}
        held.append((table, requests[half:]))

    def report_unprocessed(parsed, **kwargs):
        if held:
            table, requests = held.pop()
            parsed["UnprocessedItems"] = {table: requests}
            calls["retried"] += len(requests)

    events.register("provide-client-params.dynamodb.BatchWriteItem", keep_half, "half-in")
    events.register("after-call.dynamodb.BatchWriteItem", report_unprocessed, "half-out")
    yield calls
    events.unregister("provide-client-params.dynamodb.BatchWriteItem", unique_id="half-in")
    events.unregister("after-call.dynamodb.BatchWriteItem", unique_id="half-out")


def test_unprocessed_deletes_are_sent_again_until_every_message_is_gone(half_processed_batches):
    user_id = new_user_id()
    session = new_session(user_id)
    for n in range(26):
        chat_table().add_message(message(user_id, session.session_id, "user", f"m{n}"))
    chat_table().delete_session(user_id, session.session_id)
    assert half_processed_batches["retried"] > 0
    assert chat_items(user_id) == []
