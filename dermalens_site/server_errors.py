"""The API's one error shape for requests that gunicorn refuses before Django sees them.

    worker_class = with_json_errors("gevent")   # deploy/gunicorn.conf.py

gunicorn answers a request it cannot parse itself: a request line longer than
``limit_request_line`` (414), more headers than ``limit_request_fields`` or one past
``limit_request_field_size`` (431), a malformed request line, header or chunk (400).
Its answer is an HTML page that repeats what the client sent. Here those answers have
the shape of every other error of the API (``dermalens_site.errors``), say nothing of
what was sent, and the log names only the refusal, not the request line, which may
carry a token in its query string.

A request that was answered before its body was read (a 401 for an upload, say) has the
rest of its body read and dropped by gunicorn before the next request on the
connection. If that rest turns out not to be valid HTTP (a malformed chunk), gunicorn
would answer it too: a second answer to one request, which the client would take for
the answer to its next. Here the connection closes instead.

The config loads this module from its file, as it loads ``log_paths``: importing it as
part of its package would run ``dermalens_site/__init__`` in the master. So it needs
gunicorn alone, not Django.
"""

import json
import ssl
import weakref
from datetime import datetime
from typing import Any

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.http.message import Request
from gunicorn.http.wsgi import Response, default_environ

# The first row whose exception class matches: (classes, status, reason, code, message).
# A response header the app got wrong is the app's fault (500), like any other error.
REFUSALS: tuple[tuple[tuple[type[BaseException], ...], int, str, str, str], ...] = (
    (
        (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName),
        500,
        "Internal Server Error",
        "server_error",
        "Something went wrong on our side; please retry.",
    ),
    (
        (http_errors.LimitRequestLine,),
        414,
        "URI Too Long",
        "uri_too_long",
        "The request line is too long.",
    ),
    (
        (http_errors.LimitRequestHeaders,),
        431,
        "Request Header Fields Too Large",
        "headers_too_large",
        "The request has too many headers, or one that is too long.",
    ),
    (
        (http_errors.UnsupportedTransferCoding,),
        501,
        "Not Implemented",
        "unsupported_transfer_coding",
        "The request's Transfer-Encoding is not supported.",
    ),
    (
        (http_errors.ExpectationFailed,),
        417,
        "Expectation Failed",
        "expectation_failed",
        "The request's Expect header cannot be met.",
    ),
    (
        (http_errors.ForbiddenProxyRequest, ssl.SSLError),
        403,
        "Forbidden",
        "permission_denied",
        "The request is not allowed.",
    ),
    (
        (http_errors.ParseException,),
        400,
        "Bad Request",
        "malformed_request",
        "The request is not valid HTTP.",
    ),
)
SERVER_ERROR = REFUSALS[0][1:]


def refusal_for(exc: BaseException) -> tuple[int, str, str, str]:
    """(status, reason, code, message) of the answer to a request that raised ``exc``."""
    for classes, status, reason, code, message in REFUSALS:
        if isinstance(exc, classes):
            return status, reason, code, message
    return SERVER_ERROR


def error_answer(status: int, reason: str, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer with the API's error body; the connection closes after it."""
    # The shape of dermalens_site.errors.error_body, which cannot be imported here (it
    # loads Django and DRF); tests/test_serving.py checks the shape.
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        # The headers every answer of the app has (SecurityMiddleware, X-Frame-Options);
        # HSTS is left to the app's answers, which know whether it is on.
        "X-Content-Type-Options: nosniff\r\n"
        "X-Frame-Options: DENY\r\n"
        "Referrer-Policy: same-origin\r\n"
        "Cross-Origin-Opener-Policy: same-origin\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


class JsonErrors:
    """A gunicorn worker mixin: ``handle_error`` answers in the API's error shape, and
    never a request that has had its answer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The last request answered on each open connection, keyed by its socket. Both
        # are weak: the request refers to its socket, so a request held here would keep
        # its socket, and the entry, for the worker's life.
        self.answered: weakref.WeakKeyDictionary[Any, weakref.ref[Request]] = (
            weakref.WeakKeyDictionary()
        )

    def handle_request(self, *args: Any) -> Any:
        # (listener_name, req, sock, addr) in the gevent worker, (req, conn) in gthread.
        kept_alive = super().handle_request(*args)  # type: ignore[misc]
        for request in args:
            if isinstance(request, Request):  # an HTTP/1 request, read from its socket
                self.answered[request.unreader.sock] = weakref.ref(request)
        return kept_alive

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        started = datetime.now()
        addr = addr or ("", -1)  # a unix socket has no address
        answered_ref = self.answered.get(client)
        answered = answered_ref() if answered_ref is not None else None
        body_failed = getattr(getattr(answered, "body", None), "failed", False)
        if answered is not None and req in (None, answered) and body_failed:
            # gunicorn read the unread rest of an answered request's body, and it was not
            # valid HTTP: the answer has gone, so the connection closes (the caller closes
            # it) without another, which the client would take for its next request's.
            self.log.warning(  # type: ignore[attr-defined]
                "Closed a connection from ip=%s: the rest of an answered request's body "
                "is not valid HTTP (%s)",
                addr[0],
                type(exc).__name__,
            )
            return
        status, reason, code, message = refusal_for(exc)
        if status == SERVER_ERROR[0]:
            self.log.exception("Error handling request")  # type: ignore[attr-defined]
        else:
            # The exception's text repeats the request line or a header: left out.
            self.log.warning(  # type: ignore[attr-defined]
                "Refused a request from ip=%s: %s (%s)", addr[0], code, type(exc).__name__
            )
        # Some refusals carry the request they refused (an invalid header's); an invalid
        # request line carries the line itself, as text, which is no request to log.
        refused = getattr(exc, "req", None)
        req = req or (refused if isinstance(refused, Request) else None)
        answer = error_answer(status, reason, code, message)
        if req is not None:
            cfg = self.cfg  # type: ignore[attr-defined]
            environ = default_environ(req, client, cfg)
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = addr[0], str(addr[1])
            response = Response(req, client, cfg)
            response.status = f"{status} {reason}"
            response.sent = len(answer)
            self.log.access(response, req, environ, datetime.now() - started)  # type: ignore[attr-defined]
        try:
            util.write_nonblock(client, answer)
        except Exception:
            self.log.debug("Failed to send the error answer.")  # type: ignore[attr-defined]


def with_json_errors(worker_class: str) -> type:
    """gunicorn's worker class named ``worker_class`` ("gevent", "gthread", a dotted
    path), with ``JsonErrors`` mixed in."""
    base = util.load_class(worker_class)
    return type(base.__name__, (JsonErrors, base), {"__module__": __name__})
