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


class LogRecorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def record(self, message: str, *args: object) -> None:
        self.lines.append(message % args if args else message)

    warning = exception = debug = record

    def access(self, *args: object) -> None:
        self.lines.append("access")


def test_an_invalid_request_line_is_a_400_and_the_log_keeps_nothing_of_it():
    worker = RememberingWorker()
    worker.log = LogRecorder()
    worker.cfg = Config()
    server, client = socket.socketpair()
    client.sendall(b"GET /account/reset-password?token=SECRET-456\x01 HTTP/1.1\r\n\r\n")
    parser = RequestParser(Config(), server, ("127.0.0.1", 50000))
    try:
        next(parser)
    except Exception as refused:
        worker.handle_error(None, server, ("127.0.0.1", 50000), refused)
    server.close()
    answer = client.recv(65536)
    client.close()
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b'"malformed_request"' in answer
    assert worker.log.lines and not any("SECRET" in line for line in worker.log.lines)
