"""The plans and chat table managers against DynamoDB Local."""

from decimal import Decimal

import pytest
from ulid import ULID

from dynamo.chat import ChatMessage, chat_table
from dynamo.errors import ItemNotFound, VersionConflict
from dynamo.plans import Plan, plans_table

NOW = "2026-11-25T10:00:00.000Z"


def new_plan(user_id: str, **changes) -> Plan:
    values = {
        "user_id": user_id,
        "plan_id": str(ULID()),
        "status": "active",
        "title": "Calm, clear skin",
        "created_at": NOW,
        "updated_at": NOW,
        "content": {
            "duration_weeks": 8,
            "goals": [{"metric": "redness", "baseline": 54.5}],
            "am": [{"step": 1, "category": "sunscreen", "actives": ["spf50"]}],
        },
    }
    return Plan(**{**values, **changes})


def test_a_plan_round_trips_with_its_nested_content():
    user_id = str(ULID())
    plan = new_plan(user_id)
    plans_table().create(plan)
    stored = plans_table().get(user_id, plan.plan_id)
    assert stored.content["goals"][0]["baseline"] == Decimal("54.5")
    assert stored.content["duration_weeks"] == 8
    assert stored.title == plan.title


def test_a_stale_plan_update_is_refused_and_changes_nothing():
    user_id = str(ULID())
    plan = new_plan(user_id)
    plans_table().create(plan)
    plans_table().update(user_id, plan.plan_id, changes={"status": "paused"}, expected_version=1)
    with pytest.raises(VersionConflict) as conflict:
        plans_table().update(
            user_id, plan.plan_id, changes={"status": "completed"}, expected_version=1
        )
    assert conflict.value.current_version == 2
    assert plans_table().get(user_id, plan.plan_id).status == "paused"


def test_plans_are_listed_newest_first_only_for_their_owner():
    owner, other = str(ULID()), str(ULID())
    created = [new_plan(owner) for _ in range(3)]
    for plan in created:
        plans_table().create(plan)
    plans_table().create(new_plan(other))
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
    user_id = str(ULID())
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
    user_id, session = str(ULID()), str(ULID())
    entries = [message(user_id, session, "assistant", f"reply {n}") for n in range(60)]
    for entry in entries:
        chat_table().put(entry)
    chat_table().delete_messages(user_id, [e.message_id for e in entries])
    assert chat_table().query_session(user_id, session, limit=100).items == []
