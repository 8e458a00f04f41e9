"""A gevent worker that, told to stop, closes its idle kept-alive connections at once.

    worker_class = closing_idle_connections(with_json_errors("gevent"))   # deploy/gunicorn.conf.py

A stopping worker (SIGTERM, or ``max_requests`` reached) takes no new connection and
waits, up to ``graceful_timeout``, until every connection it holds has closed. A
kept-alive connection waiting for its next request counts as one: the load balancer
keeps its idle connections for 60 s, so every stop waited out the whole graceful timeout
(60 s, measured), and a worker at ``max_requests`` is replaced only when it has exited,
so the host served with one worker fewer all that time. Here the idle ones (no request
in hand, nothing received) are closed when the worker stops; requests in hand finish.

A request the client sent just as its connection was closed is the keep-alive race that
every server's idle timeout has: HTTP clients and the load balancer send it again on a
new connection. A connection that has not yet had a request is not closed before
FIRST_REQUEST_SECONDS: it was just accepted, its client is sending its first request,
and no client sends that again (the workers' restarts lost 1 request in about 1,500 when
fresh connections were closed as idle too). Loaded from its file by the gunicorn config,
before the app: it imports nothing of Django.
"""

import contextlib
import socket
import time
import weakref
from typing import Any

import gevent

# How often a worker checks whether it is stopping (gunicorn's own loop: every second).
STOP_CHECK_SECONDS = 0.25
# How long a stopping worker leaves a new connection for its first request to come.
FIRST_REQUEST_SECONDS = 2.0


class ClosesIdleConnections:
    """A gevent worker mixin: the connections that hold no request are closed on stop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections between requests, by socket: when each was accepted (None once
        # it has had a request).
        self.idle_connections: weakref.WeakKeyDictionary[Any, float | None] = (
            weakref.WeakKeyDictionary()
        )

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        self.idle_connections[client] = time.monotonic()
        try:
            super().handle(listener, client, addr)  # type: ignore[misc]
        finally:
            self.idle_connections.pop(client, None)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        self.idle_connections.pop(sock, None)
        try:
            return super().handle_request(listener_name, req, sock, addr)  # type: ignore[misc]
        finally:
            self.idle_connections[sock] = None

    def run(self) -> None:
        watcher = gevent.spawn(self.close_idle_connections_on_stop)
        try:
            super().run()  # type: ignore[misc]
        finally:
            watcher.kill()

    def close_idle_connections_on_stop(self) -> None:
        while self.alive:  # type: ignore[attr-defined]
            gevent.sleep(STOP_CHECK_SECONDS)
        # Until the worker exits: a request in hand when it stopped ends its connection
        # with its answer (gunicorn closes what a stopping worker answered), but one that
        # was being read then becomes idle only later.
        while True:
            now = time.monotonic()
            for connection, accepted_at in list(self.idle_connections.items()):
                if accepted_at is not None and now - accepted_at < FIRST_REQUEST_SECONDS:
                    continue  # its first request is on its way
                if not has_bytes_waiting(connection):
                    close_quietly(connection)
            gevent.sleep(STOP_CHECK_SECONDS)


def has_bytes_waiting(connection: Any) -> bool:
    """Whether the client has sent something not read yet (a request on its way)."""
    # gevent's socket would wait for the byte (cooperatively), MSG_DONTWAIT or not; the
    # operating system's socket under it answers at once.
    os_socket = getattr(connection, "_sock", connection)
    try:
        return bool(os_socket.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return False
    except OSError:
        return False  # reset or closed: nothing to wait for


def close_quietly(connection: Any) -> None:
    """Wake the greenlet reading it (it sees the end of the stream and closes it)."""
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


def closing_idle_connections(worker_class: type) -> type:
    """``worker_class`` (a gevent worker), with ``ClosesIdleConnections`` mixed in; any
    other worker class as it is (gthread's connections wait in its own poller)."""
    from gunicorn.workers.ggevent import GeventWorker

    if not issubclass(worker_class, GeventWorker):
        return worker_class
    return type(
        worker_class.__name__, (ClosesIdleConnections, worker_class), {"__module__": __name__}
    )
