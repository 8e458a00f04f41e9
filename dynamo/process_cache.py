"""A worker's memory cache of immutable values: Django's local-memory cache, unpickled.

    CACHES = {"users": {"BACKEND": "dynamo.process_cache.ObjectMemoryCache", ...}}
    users = process_cache("users")

Django's ``LocMemCache`` pickles every value it stores and unpickles it on every read,
so that a caller can never change what another one reads, and checks each key against
memcached's rules. The caches that use this backend hold values that cannot be changed
(a frozen ``User`` of tuples and strings, a signed URL) and keys that never leave the
process, and they are read on every request: the authenticated user once, a list
page's thumbnail URLs twenty times. Pickling and key checks cost about 15 µs a read
there; here a read is a dictionary lookup under the cache's lock. Expiry, culling the
least recently used when full, and one store per name (``LOCATION``) are LocMemCache's.

``process_cache(alias)`` is the one instance of such a cache that the whole process
uses. ``caches[alias]`` makes an instance per thread, which under gevent is per
request, and finds it again through a context-local lookup on each use (about 4 µs,
twenty times on a list page), for backends whose clients cannot be shared.
"""

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache


class ObjectMemoryCache(LocMemCache):
    """``LocMemCache`` storing the values themselves: for immutable values only. Only
    the methods that pickle are its own; the rest (expiry, culling, delete, touch) are
    LocMemCache's."""

    # LocMemCache's store, which Django's type stubs leave out.
    _cache: "OrderedDict[str, Any]"
    _lock: threading.Lock
    _has_expired: Callable[[str], bool]
    _set: Callable[[str, Any, Any], None]
    _delete: Callable[[str], bool]

    def validate_key(self, key: str) -> None:
        # memcached's rules on keys: these never reach a memcached.
        return None

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        key = self.make_key(key, version=version)
        with self._lock:
            if not self._has_expired(key):
                return False
            self._set(key, value, timeout)
            return True

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        key = self.make_key(key, version=version)
        with self._lock:
            if self._has_expired(key):
                self._delete(key)
                return default
            self._cache.move_to_end(key, last=False)
            return self._cache[key]

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        key = self.make_key(key, version=version)
        with self._lock:
            self._set(key, value, timeout)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        key = self.make_key(key, version=version)
        with self._lock:
            if self._has_expired(key):
                self._delete(key)
                raise ValueError(f"Key '{key}' not found")
            value = self._cache[key] + delta
            self._cache[key] = value
            self._cache.move_to_end(key, last=False)
        return value


@functools.cache
def process_cache(alias: str) -> ObjectMemoryCache:
    cache = caches.create_connection(alias)
    if not isinstance(cache, ObjectMemoryCache):
        raise TypeError(f"The {alias!r} cache is not an ObjectMemoryCache: it is not shared.")
    return cache
