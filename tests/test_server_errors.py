"""The worker mixin's memory of answered requests lasts as long as their connections.

tests/test_serving.py checks what a client sees (one answer per request); this checks
that remembering the last answered request of each connection holds nothing once the
connection is gone, in a worker that serves connections for hours.
"""

import gc
import socket

from gunicorn.config import Config
from gunicorn.http.parser import RequestParser

from dermalens_site.server_errors import JsonErrors


class Worker:
    """The part of gunicorn's worker that the mixin wraps: every request answered."""

    def handle_request(self, listener_name, req, sock, addr) -> bool:
        return True


class RememberingWorker(JsonErrors, Worker):
    pass


def serve_one_connection(worker: RememberingWorker) -> None:
    """A connection whose one request is answered, then closed, as gunicorn does."""
    server, client = socket.socketpair()
    client.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    parser = RequestParser(Config(), server, ("127.0.0.1", 50000))
    worker.handle_request(("127.0.0.1", 8000), next(parser), server, ("127.0.0.1", 50000))
    assert len(worker.answered) >= 1
    server.close()
    client.close()


def test_a_closed_connection_leaves_nothing_remembered():
    worker = RememberingWorker()
    for _ in range(20):
        serve_one_connection(worker)
    gc.collect()
    assert len(worker.answered) == 0
