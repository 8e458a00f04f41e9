"""A gevent worker that reads at most a little of an answered request's unread body, for
a short while, and closes the connection past it.

    worker_class = draining_bodies_briefly(closing_idle_connections(...))  # gunicorn.conf.py

A request answered before its body was read (a 401 for an upload without a token, a 413
from its Content-Length, a 408 for a body too slow) has the rest of its body read and
dropped by gunicorn before the next request on the connection, for as long as its
keep-alive timeout (75 s): a connection that declared a photo's length, had its 401, and
then sent a byte every few seconds held a greenlet of the worker all that time, and
connections opened again every 75 s kept every one of them (a worker runs 1,000). Here
at most DRAIN_MAX_BYTES of the rest are read, within DRAIN_SECONDS (as gunicorn's own
gthread worker bounds its drain, ``Parser.finish_body``); a longer or slower rest, or
one that is not valid HTTP, closes the connection: its answer has gone, and a client
with much left to send is better served by a new connection than by waiting for it.

Loaded from its file by the gunicorn config, before the app: it imports nothing of Django.
"""

import time
from typing import Any

import gevent

DRAIN_SECONDS = 10.0
DRAIN_MAX_BYTES = 64 * 1024
DRAIN_READ_SIZE = 16 * 1024


class DrainsBodiesBriefly:
    """A gevent worker mixin: an answered request's unread body is read only if it is
    short and comes at once (``drained_briefly``); otherwise the connection closes."""

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        kept_alive = super().handle_request(listener_name, req, sock, addr)  # type: ignore[misc]
        body = getattr(req, "body", None)
        if body is not None and not drained_briefly(body):
            raise StopIteration()  # gunicorn closes the connection
        return kept_alive


def drained_briefly(body: Any) -> bool:
    """Whether the rest of ``body`` (gunicorn's request body) was read to its end within
    DRAIN_SECONDS and DRAIN_MAX_BYTES; False when it was longer, slower or not valid HTTP."""
    deadline, size = time.monotonic() + DRAIN_SECONDS, 0
    while size <= DRAIN_MAX_BYTES:
        left = deadline - time.monotonic()
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
    return False


def draining_bodies_briefly(worker_class: type) -> type:
    """``worker_class`` (a gevent worker), with ``DrainsBodiesBriefly`` mixed in; any other
    worker class as it is."""
    from gunicorn.workers.ggevent import GeventWorker

    if not issubclass(worker_class, GeventWorker):
        return worker_class
    return type(
        worker_class.__name__, (DrainsBodiesBriefly, worker_class), {"__module__": __name__}
    )
