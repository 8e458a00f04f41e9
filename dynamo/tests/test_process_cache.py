"""The worker's memory caches of immutable values (``dynamo.process_cache``): the user
authentication reads and the signed image URLs a list page reuses."""

import time
import warnings

import pytest
from django.core.cache import caches

from dynamo.process_cache import ObjectMemoryCache, process_cache
from dynamo.tests.factories import a_user
from dynamo.users import USER_CACHE_ALIAS
from scans.storage import URL_CACHE_ALIAS


@pytest.fixture
def users_cache():
    cache = process_cache(USER_CACHE_ALIAS)
    cache.clear()
    yield cache
    cache.clear()


def test_a_read_gives_back_the_stored_user_itself_not_a_copy(users_cache):
    user = a_user()
    users_cache.set(user.user_id, user, 60)
    assert users_cache.get(user.user_id) is user
    assert users_cache.get("someone-else") is None


def test_every_instance_of_a_cache_shares_one_store(users_cache):
    user = a_user()
    caches[USER_CACHE_ALIAS].set(user.user_id, user, 60)
    assert process_cache(USER_CACHE_ALIAS) is users_cache
    assert users_cache.get(user.user_id) is user
    users_cache.delete(user.user_id)
    assert caches[USER_CACHE_ALIAS].get(user.user_id) is None


def test_an_entry_is_gone_once_its_time_is_up(users_cache):
    users_cache.set("short", "value", 0.2)
    users_cache.set("long", "value", 60)
    assert users_cache.add("short", "other", 60) is False
    time.sleep(0.3)
    assert users_cache.get("short", "gone") == "gone"
    assert users_cache.get("long") == "value"
    assert users_cache.add("short", "again", 60) is True
    assert users_cache.get("short") == "again"


def test_a_full_cache_makes_room_for_new_entries():
    cache = ObjectMemoryCache("test-full", {"OPTIONS": {"MAX_ENTRIES": 30, "CULL_FREQUENCY": 3}})
    cache.clear()
    for number in range(100):
        cache.set(f"key-{number}", number, 60)
    kept = [number for number in range(100) if cache.get(f"key-{number}") is not None]
    assert len(kept) <= 30
    assert 99 in kept  # the newest stays
    assert cache.incr("key-99", 2) == 101
    with pytest.raises(ValueError, match="not found"):
        cache.incr("never-set")


def test_keys_are_not_held_to_memcached_rules(users_cache):
    # A key of a space and 300 characters warns in Django's local-memory cache, twice
    # for each read or write: here it is taken as it is.
    key = "a key " + "x" * 300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        users_cache.set(key, "value", 60)
        assert users_cache.get(key) == "value"


def test_only_a_cache_of_this_kind_is_shared_across_the_process():
    assert isinstance(process_cache(URL_CACHE_ALIAS), ObjectMemoryCache)
    with pytest.raises(TypeError, match="default"):
        process_cache("default")
