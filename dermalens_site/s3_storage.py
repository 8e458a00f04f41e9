"""django-storages' S3 storage with its boto3 connections made once per thread, not per request.

    STORAGES["scan_images"] = {"BACKEND": "dermalens_site.s3_storage.S3Storage", ...}

django-storages keeps one boto3 S3 resource per thread, each from a boto3 session of its
own, in a ``threading.local``. In a gevent web worker ``threading.local`` is per
greenlet, that is per request: every request that signed an image URL or stored a file
built a session and a resource again, about 0.15 s of CPU (the S3 service model read
and parsed each time) and, with the IAM role, fresh credentials from the instance
metadata service. A list of scans signs 20 thumbnail URLs.

Here the resources are per operating-system thread (the gevent worker's one thread,
or each of the analysis worker's threads), and all come from one boto3 session, made
once per process: a further resource from it takes about 8 ms, and the session's
credentials are fetched once and refreshed by botocore. Resources are made under a lock,
because a boto3 session is not safe to make clients from in several threads at once.
"""

import threading
from collections.abc import Callable
from typing import Any

import boto3
from gevent.monkey import get_original
from storages.backends import s3

# The operating system's thread-local, also in a gevent worker (where threading.local
# is gevent's, one per greenlet).
_ThreadLocal: type = get_original("_thread", "_local")


class S3Storage(s3.S3Storage):
    # A greenlet lock in a gevent worker (getting credentials may wait on the network),
    # a thread lock elsewhere; shared by every instance, as the session is.
    _making = threading.Lock()
    _sessions: dict[tuple[Any, ...], boto3.session.Session] = {}

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._connections = _ThreadLocal()
        self._unsigned_connections = _ThreadLocal()

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._connections = _ThreadLocal()
        self._unsigned_connections = _ThreadLocal()

    @property
    def connection(self) -> Any:
        return self._made_once(self._connections, s3.S3Storage.connection.fget)

    @property
    def unsigned_connection(self) -> Any:
        return self._made_once(self._unsigned_connections, s3.S3Storage.unsigned_connection.fget)

    def _made_once(self, made: Any, make: Callable[[Any], Any]) -> Any:
        """This thread's connection in ``made``; if there is none, django-storages' own
        getter (``make``) makes it there, under the lock."""
        connection = getattr(made, "connection", None)
        if connection is None:
            with self._making:
                connection = make(self)
        return connection

    def _create_session(self) -> boto3.session.Session:
        """The process's session for these credentials (made under ``_making``)."""
        key = (self.session_profile, self.access_key, self.secret_key, self.security_token)
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = super()._create_session()
        return session
