"""A worker's memory cache of immutable values: Django's local-memory cache, unpickled.

    CACHES = {"users": {"BACKEND": "dynamo.process_cache.ObjectMemoryCache", ...}}
    users = process_cache("users")

Django's ``LocMemCache`` pickles every value it stores and unpickles it on every read,
so that a caller can never change what another one reads, and checks each key against
memcached's rules. The caches that use this backend hold values that cannot be changed
(a frozen ``User`` of tuples and strings, a signed URL) and keys that never leave the
process, and they are read on every request: the authenticated user once, a list
page's thumbnail URLs twenty times. Pickling and key checks cost about 15 µs a read
there; here a read is a dictionary lookup under the cache's lock. As in LocMemCache,
entries expire after their timeout, the least recently used go first when the cache
is full (a ``CULL_FREQUENCY``-th of them at a time), and every instance with the same
name (``LOCATION``) shares one store.

``process_cache(alias)`` is the one instance of such a cache that the whole process
uses. ``caches[alias]`` makes an instance per thread, which under gevent is per
request, and finds it again through a context-local lookup on each use (about 4 µs,
twenty times on a list page), for backends whose clients cannot be shared.
"""

import functools
import threading
import time
from collections import OrderedDict
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

# Stores by cache name: (entries, expiry times, lock).
_stores: dict[str, tuple["OrderedDict[str, Any]", dict[str, float | None], threading.Lock]] = {}
_stores_lock = threading.Lock()


class ObjectMemoryCache(BaseCache):
    """A local-memory cache storing the values themselves: for immutable values only."""

    def __init__(self, name: str, params: dict[str, Any]):
        super().__init__(params)
        with _stores_lock:
            store = _stores.setdefault(name, (OrderedDict(), {}, threading.Lock()))
        self._entries, self._expiry, self._lock = store

    def validate_key(self, key: str) -> None:
        # memcached's rules on keys: these never reach a memcached.
        return None

    def _expired(self, key: str) -> bool:
        expires = self._expiry.get(key, -1.0)
        return expires is not None and expires <= time.time()

    def _store(self, key: str, value: Any, timeout: Any) -> None:
        if key not in self._entries and len(self._entries) >= self._max_entries:
            self._cull()
        self._entries[key] = value
        self._entries.move_to_end(key, last=False)
        self._expiry[key] = self.get_backend_timeout(timeout)

    def _cull(self) -> None:
        if self._cull_frequency == 0:
            self._entries.clear()
            self._expiry.clear()
            return
        for _ in range(len(self._entries) // self._cull_frequency):
            key, _value = self._entries.popitem()  # the least recently used
            self._expiry.pop(key, None)

    def _remove(self, key: str) -> bool:
        self._expiry.pop(key, None)
        return self._entries.pop(key, _MISSING) is not _MISSING

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        key = self.make_key(key, version=version)
        with self._lock:
            if not self._expired(key):
                return False
            self._store(key, value, timeout)
            return True

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        key = self.make_key(key, version=version)
        with self._lock:
            if self._expired(key):
                self._remove(key)
                return default
            self._entries.move_to_end(key, last=False)
            return self._entries[key]

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        key = self.make_key(key, version=version)
        with self._lock:
            self._store(key, value, timeout)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_key(key, version=version)
        with self._lock:
            if self._expired(key):
                return False
            self._expiry[key] = self.get_backend_timeout(timeout)
            return True

    def delete(self, key: Any, version: int | None = None) -> bool:
        key = self.make_key(key, version=version)
        with self._lock:
            return self._remove(key)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        key = self.make_key(key, version=version)
        with self._lock:
            if self._expired(key):
                self._remove(key)
                return False
            return True

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        key = self.make_key(key, version=version)
        with self._lock:
            if self._expired(key):
                self._remove(key)
                raise ValueError(f"Key '{key}' not found")
            value = self._entries[key] + delta
            self._entries[key] = value
            self._entries.move_to_end(key, last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._expiry.clear()


_MISSING = object()


@functools.cache
def process_cache(alias: str) -> ObjectMemoryCache:
    cache = caches.create_connection(alias)
    if not isinstance(cache, ObjectMemoryCache):
        raise TypeError(f"The {alias!r} cache is not an ObjectMemoryCache: it is not shared.")
    return cache
