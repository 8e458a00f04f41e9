"""Connections that begin a request's body and trickle it, against gunicorn as deployed:
they hold no worker back (a file of its own: each test waits out the body's grace, and
the suite runs files in parallel).
"""

import contextlib
import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest

from dermalens_site import chunked_bodies
from tests.test_serving import (
    call,
    gemini,  # noqa: F401 (a fixture)
    http_request,
    start_gunicorn,
    stop_gunicorn,
)

# The greenlets of a worker in the tests of trickled bodies (in production 1,000).
TRICKLING_CONNECTIONS = 10


@contextlib.contextmanager
def trickling(gemini_url: str, request: bytes) -> Iterator[tuple[int, list[socket.socket]]]:
    """A worker of TRICKLING_CONNECTIONS greenlets, and as many connections that each sent
    ``request`` (a body begun) and nothing more: (its port, the connections)."""
    server, port = start_gunicorn(
        gemini_url=gemini_url,
        WEB_CONCURRENCY="1",
        GUNICORN_WORKER_CONNECTIONS=str(TRICKLING_CONNECTIONS),
    )
    tricklers: list[socket.socket] = []
    try:
        for _ in range(TRICKLING_CONNECTIONS):
            trickler = socket.create_connection(("127.0.0.1", port), timeout=30)
            trickler.sendall(request)
            tricklers.append(trickler)
        yield port, tricklers
    finally:
        for trickler in tricklers:
            trickler.close()
        stop_gunicorn(server)


def assert_health_answered_within_the_pace(port: int) -> None:
    started = time.monotonic()
    status, _ = call(port, "GET", "/api/v1/health", token=None, timeout=30)
    assert status == 200
    assert time.monotonic() - started < 2 * chunked_bodies.LARGE_BODY_GRACE_SECONDS


@pytest.mark.parametrize(
    ("body_headers", "begun"),
    [(b"Content-Length: 100", b"{"), (b"Transfer-Encoding: chunked", b"1\r\n{\r\n")],
    ids=["declared-length", "in-chunks"],
)
def test_connections_that_trickle_a_body_hold_no_worker_back(
    gemini,  # noqa: F811
    body_headers,
    begun,
):
    """gunicorn bounds the wait for a request's headers, not for its body: connections that
    each began a body and sent nothing more held every greenlet of the worker, and the
    worker answered nobody, for as long as they stayed open. Now each is answered 408
    once its body falls behind the least pace, and the worker serves again."""
    json_type = b"Content-Type: application/json"
    request = http_request(b"/api/v1/auth/login", json_type, body_headers, method=b"POST")
    with trickling(gemini[0].base_url, request + begun) as (port, tricklers):
        time.sleep(1)
        assert_health_answered_within_the_pace(port)
        for trickler in tricklers:
            answer = http.client.HTTPResponse(trickler)  # type: ignore[arg-type]
            answer.begin()
            assert answer.status == 408
            assert json.loads(answer.read())["error"]["code"] == "request_timeout"


def test_connections_that_trickle_the_rest_of_an_answered_body_hold_no_worker_back(
    gemini,  # noqa: F811
):
    """A photo upload without a token is answered 401 before its body is read, and gunicorn
    then read the rest of the body for as long as its keep-alive timeout (75 s): such
    connections, sending a byte now and then, held every greenlet of the worker all that
    time. Now at most 64 KiB of the rest is read, within 10 s, and the connection closes
    past either."""
    request = http_request(
        b"/api/v1/scans",
        b"Content-Type: multipart/form-data; boundary=xyz",
        b"Content-Length: 2000000",
        method=b"POST",
    )
    with trickling(gemini[0].base_url, request + b"--xyz\r\n") as (port, tricklers):
        for trickler in tricklers:
            answer = http.client.HTTPResponse(trickler)  # type: ignore[arg-type]
            answer.begin()
            assert answer.status == 401
            answer.read()
        assert_health_answered_within_the_pace(port)
        for trickler in tricklers:
            assert trickler.recv(1) == b""  # closed
