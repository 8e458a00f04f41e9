"""A gevent worker that reads the unread rest of an answered request's body at a least
pace, and closes the connection when it falls behind.

    worker_class = draining_bodies_at_pace(closing_idle_connections(...))  # gunicorn.conf.py

A request answered before its body was read (a 401 for an upload without a token, a 413
from its Content-Length, a 408 for a body too slow) has the rest of its body read and
dropped by gunicorn before the next request on the connection, for as long as its
keep-alive timeout (75 s): a connection that declared a photo's length, had its 401, and
then sent a byte every few seconds held a greenlet of the worker all that time, and
connections opened again every 75 s kept every one of them (a worker runs 1,000). Here
the rest is read at the pace every body keeps (``dermalens_site.chunked_bodies``: 16 KiB/s
on average after a 10 s grace), and past it, or if it is not valid HTTP, the connection
closes: its answer has gone, and where a next request would start is unknown.

Loaded from its file by the gunicorn config, before the app: it imports nothing of Django.
"""

import time
from typing import Any

import gevent

# The pace of dermalens_site.chunked_bodies (LARGE_BODY_GRACE_SECONDS,
# LARGE_BODY_MIN_BYTES_PER_SECOND), which this module cannot import (it loads Django).
DRAIN_GRACE_SECONDS = 10.0
DRAIN_MIN_BYTES_PER_SECOND = 16 * 1024
DRAIN_READ_SIZE = 64 * 1024


class DrainsBodiesAtPace:
    """A gevent worker mixin: an answered request's unread body is read at a least pace."""

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        kept_alive = super().handle_request(listener_name, req, sock, addr)  # type: ignore[misc]
        body = getattr(req, "body", None)
        if body is not None and not drained_at_pace(body):
            raise StopIteration()  # gunicorn closes the connection
        return kept_alive


def drained_at_pace(body: Any) -> bool:
    """Whether the rest of ``body`` (gunicorn's request body) was read to its end at the
    pace; False when it fell behind or was not valid HTTP."""
    started, size = time.monotonic(), 0
    while True:
        left = started + DRAIN_GRACE_SECONDS + size / DRAIN_MIN_BYTES_PER_SECOND - time.monotonic()
        if left <= 0:
            return False
        timeout = gevent.Timeout(left)
        timeout.start()
        try:
            piece = body.read(DRAIN_READ_SIZE)
        except gevent.Timeout as expired:
            if expired is not timeout:
                raise
            return False
        except Exception:
            return False  # not valid HTTP (a malformed chunk), or the client has gone
        finally:
            timeout.close()
        if not piece:
            return True
        size += len(piece)


def draining_bodies_at_pace(worker_class: type) -> type:
    """``worker_class`` (a gevent worker), with ``DrainsBodiesAtPace`` mixed in; any other
    worker class as it is."""
    from gunicorn.workers.ggevent import GeventWorker

    if not issubclass(worker_class, GeventWorker):
        return worker_class
    return type(worker_class.__name__, (DrainsBodiesAtPace, worker_class), {"__module__": __name__})
