"""boto3 clients made once per process for each set of settings, not once per use.

    _clients = SharedClients()
    client = _clients.get(key, make_client)      # make_client() only on the first call

Libraries that make a boto3 client each time they connect (kombu's SQS channel,
django-ses's backend) cost about 0.1-0.15 s of CPU per client: botocore reads and parses
the service model again. boto3 clients are thread-safe, so one serves the process. The
client is made under a lock: threads (or greenlets) that ask at the same moment would
otherwise each make their own.
"""

import threading
from collections.abc import Callable, Hashable
from typing import Any


class SharedClients:
    def __init__(self) -> None:
        self._clients: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The client for ``key``, made with ``make()`` if there is none; a ``make`` that
        returns None (a connection that failed silently) leaves nothing behind."""
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = make()
                if client is not None:
                    self._clients[key] = client
            return client

    def clear(self) -> None:
        """Make the clients again on next use (after their settings changed)."""
        with self._lock:
            self._clients.clear()

    def __len__(self) -> int:
        return len(self._clients)
