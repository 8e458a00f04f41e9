"""What a stopping gevent worker closes (dermalens_site/worker_stop.py): the idle
kept-alive connections at once, and a connection just accepted not before its first
request has had FIRST_REQUEST_SECONDS to come."""

import socket
import time

import gevent
import pytest

from dermalens_site import worker_stop
from dermalens_site.worker_stop import STOP_CHECK_SECONDS, ClosesIdleConnections

# The first request's time, shortened so that the tests wait less than the 2 s it is.
FIRST_REQUEST_SECONDS = 0.75


@pytest.fixture(autouse=True)
def _short_first_request(monkeypatch):
    assert worker_stop.FIRST_REQUEST_SECONDS > FIRST_REQUEST_SECONDS
    monkeypatch.setattr(worker_stop, "FIRST_REQUEST_SECONDS", FIRST_REQUEST_SECONDS)


class StoppingWorker(ClosesIdleConnections):
    alive = False  # told to stop


def is_closed(client: socket.socket) -> bool:
    """Whether the server's end of ``client``'s connection was shut down (end of stream)."""
    client.settimeout(0.05)
    try:
        return client.recv(1) == b""
    except TimeoutError:
        return False


def test_a_stopping_worker_closes_idle_connections_but_leaves_a_new_one_its_first_request():
    worker = StoppingWorker()
    between_requests, its_client = socket.socketpair()
    just_accepted, new_client = socket.socketpair()
    worker.idle_connections[between_requests] = None
    worker.idle_connections[just_accepted] = time.monotonic()
    watcher = gevent.spawn(worker.close_idle_connections_on_stop)
    try:
        gevent.sleep(STOP_CHECK_SECONDS + 0.1)  # the watcher has looked at least once
        assert is_closed(its_client)
        # A client descheduled between connecting and sending (a loaded host) sends its
        # first request late: closed as idle, that request was lost, and no client
        # sends a first request again.
        assert not is_closed(new_client)
        new_client.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        gevent.sleep(FIRST_REQUEST_SECONDS + 2 * STOP_CHECK_SECONDS)
        assert just_accepted.recv(4) == b"GET "
        assert not is_closed(new_client)
    finally:
        watcher.kill()
        for end in (between_requests, its_client, just_accepted, new_client):
            end.close()


def test_a_new_connection_that_sends_nothing_is_closed_once_its_time_is_up():
    worker = StoppingWorker()
    just_accepted, silent_client = socket.socketpair()
    worker.idle_connections[just_accepted] = time.monotonic()
    watcher = gevent.spawn(worker.close_idle_connections_on_stop)
    try:
        gevent.sleep(FIRST_REQUEST_SECONDS + 3 * STOP_CHECK_SECONDS)
        assert is_closed(silent_client)
    finally:
        watcher.kill()
        just_accepted.close()
        silent_client.close()
