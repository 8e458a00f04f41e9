"""A read of a user that was on the wire when this process wrote the user answers its own
request, but is not remembered: the process's copy never goes back to before the write
(``UsersTable.get_recent`` and ``forget``)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches

from dynamo.tests.factories import a_user
from dynamo.users import USER_CACHE_ALIAS, UsersTable, users_table

MAX_AGE = 60


@pytest.fixture
def user():
    user = a_user(full_name="Before")
    users_table().create(user)
    caches[USER_CACHE_ALIAS].delete(user.user_id)
    return user


@pytest.fixture
def held_read(monkeypatch):
    """``UsersTable.get`` whose first call reads, then holds its answer until released."""
    reading, released = threading.Event(), threading.Event()
    real_get = UsersTable.get
    calls = []

    def held_get(table, user_id, **kwargs):
        calls.append(user_id)
        answer = real_get(table, user_id, **kwargs)
        if len(calls) == 1:
            reading.set()
            released.wait(10)
        return answer

    monkeypatch.setattr(UsersTable, "get", held_get)
    return reading, released


def recent(user_id):
    return users_table().get_recent(user_id, max_age=MAX_AGE)


def test_a_read_answered_before_a_write_is_not_remembered_after_it(user, held_read):
    reading, released = held_read
    with ThreadPoolExecutor(1) as pool:
        before = pool.submit(recent, user.user_id)
        assert reading.wait(10)  # it has read "Before" and not yet answered
        users_table().update_profile(user.user_id, {"full_name": "After"})
        after = recent(user.user_id)
        released.set()
        came_before = before.result(10)

    assert came_before.full_name == "Before"
    assert after.full_name == "After"
    assert recent(user.user_id).full_name == "After"


def test_a_token_revoked_while_a_read_was_on_the_wire_stays_revoked(user, held_read):
    reading, released = held_read
    with ThreadPoolExecutor(1) as pool:
        before = pool.submit(recent, user.user_id)
        assert reading.wait(10)
        revoked = users_table().revoke_sessions(user.user_id, updated_at=user.created_at)
        released.set()
        assert before.result(10).token_version == user.token_version

    assert recent(user.user_id).token_version == revoked.token_version > user.token_version
