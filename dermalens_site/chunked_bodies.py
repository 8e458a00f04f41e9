"""A request body sent in chunks (``Transfer-Encoding: chunked``) reaches Django with its
length, and every request body comes at a least pace.

    application = ChunkedBodies(get_wsgi_application())     # dermalens_site/wsgi.py

Django reads a request body up to its Content-Length, and a chunked body has none: Django
and DRF take it as empty, so a chunked sign-in was refused for a missing email and a
chunked upload for a missing photo. HTTP clients send a body in chunks when they stream
it without knowing its length first (a photo read from a file, say), and the load
balancer passes such a request on as it came.

This WSGI middleware reads such a body before Django sees the request: at most one byte
past the limit for its content type (``body_limit``), in memory up to
``IN_MEMORY_BYTES`` (a JSON body's limit) and in a temporary file past that. It is read
before the request is authenticated, so what a sender can make the worker hold is
bounded. Past ``IN_MEMORY_BYTES`` (a photo), a body is read only for a sender whose
bearer token is valid (its signature and expiry; the view checks the account), and at
most ``LARGE_BODIES_AT_ONCE`` such bodies per worker are read at once,
``LARGE_BODIES_PER_ACCOUNT`` of one account, at most ``MAX_UPLOAD_BODY_BYTES`` on disk
each. A sender waits at most
``LARGE_BODY_WAIT_SECONDS`` for its turn, and while it has one its body must keep coming
at ``LARGE_BODY_MIN_BYTES_PER_SECOND`` on average, after ``LARGE_BODY_GRACE_SECONDS``:
a stranger could otherwise take every turn with a few connections that trickle a byte
now and then, and hold every photo upload of the worker for as long as they liked. A
body left unread for one of these reasons is marked (``UNREAD_BODY``) for
BodySizeLimitMiddleware to answer 401, 503 or 408.

A body that declares its length is held to the same pace (``Pace``): one of at most
``IN_MEMORY_BYTES`` (every JSON body) is read here, before Django, and one marked
``TOO_SLOW`` if it falls behind; a larger one (a photo) is read only by the view, after
authentication, through ``PacedInput``, whose read raises ``TooSlow`` (a 408) past the
pace. gunicorn bounds the wait for a request's headers (its keep-alive timeout), not
for its body: 1,000 connections per worker that each declared a body and sent a byte of
it every few seconds held every greenlet the worker may run, and the worker answered
nobody else (2,000 such connections, a byte every 10 s, and a health check waited past
20 s for a server of two workers), for as long as they kept sending.

Django then gets the body with its Content-Length, so everything after is as for a body
that declared its length: BodySizeLimitMiddleware refuses one past the limit with the
same 413, and one whose chunks are not valid HTTP is marked (``MALFORMED_BODY``) for
that middleware to answer 400 ``malformed_request``. A client that leaves mid-body is
gunicorn's to handle, as with any body.

It reads only where the server ends the input at the end of the body
(``wsgi.input_terminated``, as gunicorn does); elsewhere the request passes untouched.
"""

import contextlib
import functools
import io
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from django.conf import settings
from django.utils.http import parse_header_parameters
from gunicorn.http.errors import ParseException

from dermalens_site.concurrency import cooperative
from dermalens_site.errors import ApplicationError

# Set in the WSGI environ when the chunks of a body are not valid HTTP.
MALFORMED_BODY = "dermalens.malformed_body"
# Set in the WSGI environ when a large body was left unread, to why: NOT_SIGNED_IN (no
# bearer token), TOKEN_NOT_VALID, NO_TURN or TOO_SLOW.
UNREAD_BODY = "dermalens.unread_body"
NOT_SIGNED_IN = "not_signed_in"
TOKEN_NOT_VALID = "token_not_valid"  # noqa: S105 (a reason, not a secret)
NO_TURN = "no_turn"
TOO_SLOW = "too_slow"
READ_SIZE = 64 * 1024
# Kept in memory up to this much (the default JSON limit); a larger body (a photo) goes
# to a temporary file.
IN_MEMORY_BYTES = 64 * 1024
# Bodies past IN_MEMORY_BYTES read at once per worker process, and of them per account.
LARGE_BODIES_AT_ONCE = 4
LARGE_BODIES_PER_ACCOUNT = 1
# How long a large body's sender waits for its turn, at most.
LARGE_BODY_WAIT_SECONDS = 30
# While it has its turn, a large body comes at this average rate at least (a 10 MB photo
# in ten minutes), after a grace for the connection to get going.
LARGE_BODY_MIN_BYTES_PER_SECOND = 16 * 1024
LARGE_BODY_GRACE_SECONDS = 10


def body_limit(content_type: str) -> int:
    """The most bytes a request body of ``content_type`` may hold: a photo upload's
    (multipart) or any other's (JSON)."""
    if content_type == "multipart/form-data":
        return settings.MAX_UPLOAD_BODY_BYTES
    return settings.MAX_JSON_BODY_BYTES


@functools.cache
def large_bodies() -> threading.BoundedSemaphore:
    """Made at first use: in a worker, after gevent has patched ``threading``."""
    return threading.BoundedSemaphore(LARGE_BODIES_AT_ONCE)


def sent_in_chunks(environ: dict[str, Any]) -> bool:
    return (
        "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        and not environ.get("CONTENT_LENGTH")
        and bool(environ.get("wsgi.input_terminated"))
    )


class ChunkedBodies:
    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        if not sent_in_chunks(environ):
            pace_declared_body(environ)
            return self.application(environ, start_response)
        content_type = parse_header_parameters(environ.get("CONTENT_TYPE", ""))[0]
        limit = body_limit(content_type)
        # Closed with the response (ClosingResponse), or here if reading fails.
        body = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY_BYTES)  # noqa: SIM115
        try:
            size = read_body(
                environ["wsgi.input"], body, limit=min(limit, IN_MEMORY_BYTES), pace=Pace()
            )
            if IN_MEMORY_BYTES < size <= limit:  # a large body (a photo): read in turn
                size, unread = read_large_body(environ, body, size=size, limit=limit)
                if unread:
                    # What came is not handed on: the rest is still on its way.
                    environ[UNREAD_BODY] = unread
                    size = 0
        except ParseException:
            environ[MALFORMED_BODY] = True
            size = 0
        except TooSlow:
            environ[UNREAD_BODY] = TOO_SLOW
            size = 0
        except BaseException:
            body.close()
            raise
        body.seek(0)
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = body, str(size)
        return ClosingResponse(self.application(environ, start_response), body)


def declared_length(environ: dict[str, Any]) -> int:
    """The body's Content-Length; 0 when there is none (or it is not a number, which
    BodySizeLimitMiddleware refuses)."""
    try:
        return max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def pace_declared_body(environ: dict[str, Any]) -> None:
    """Hold a body that declares its length to the least pace: one of at most
    IN_MEMORY_BYTES read now (marked TOO_SLOW if it falls behind), a larger one wrapped
    in ``PacedInput`` for the view to read."""
    length = declared_length(environ)
    if not length:
        return
    if length > IN_MEMORY_BYTES:
        environ["wsgi.input"] = PacedInput(environ["wsgi.input"])
        return
    source, body, size = environ["wsgi.input"], io.BytesIO(), 0
    pace = Pace()
    try:
        # Never past the declared length: a server that does not end the input at the
        # body's end (runserver) would wait there for the next request.
        while size < length:
            with pace.bounding(size):
                piece = source.read(min(READ_SIZE, length - size))
            if not piece:
                break
            body.write(piece)
            size += len(piece)
    except TooSlow:
        environ[UNREAD_BODY] = TOO_SLOW
        body, size = io.BytesIO(), 0
    body.seek(0)
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = body, str(size)


def read_body(source: IO[bytes], body: IO[bytes], *, limit: int, pace: "Pace | None" = None) -> int:
    """Copy ``source`` into ``body`` to its end or one byte past ``limit``; the size copied.
    With ``pace``, ``TooSlow`` once the body falls behind it."""
    size = 0
    while size <= limit:
        wanted = min(READ_SIZE, limit + 1 - size)
        with pace.bounding(size) if pace is not None else contextlib.nullcontext():
            piece = source.read(wanted)
        if not piece:
            break
        body.write(piece)
        size += len(piece)
    return size


def read_large_body(
    environ: dict[str, Any], body: IO[bytes], *, size: int, limit: int
) -> tuple[int, str | None]:
    """Read the rest of a large body (``size`` bytes of it read) in one of the worker's
    turns; the size read, and why the rest was left unread (None when it was not)."""
    account, refusal = sender_of(environ)
    if account is None:
        return size, refusal
    with account_turn(account) as taken:
        if not taken:  # the account's one turn is taken by another of its bodies
            return size, NO_TURN
        turns = large_bodies()
        if not turns.acquire(timeout=LARGE_BODY_WAIT_SECONDS):
            return size, NO_TURN
        try:
            rest = read_body(environ["wsgi.input"], body, limit=limit - size, pace=Pace())
            return size + rest, None
        except TooSlow:
            return size, TOO_SLOW
        finally:
            turns.release()


def sender_of(environ: dict[str, Any]) -> tuple[str | None, str | None]:
    """The account whose bearer token this service signed and is still valid (no account
    is read: the view does, as for every request), or why there is none: NOT_SIGNED_IN
    (no bearer token) or TOKEN_NOT_VALID (malformed, badly signed, expired, a refresh)."""
    from rest_framework_simplejwt.exceptions import AuthenticationFailed
    from rest_framework_simplejwt.settings import api_settings

    from accounts.authentication import DynamoJWTAuthentication

    header = environ.get(api_settings.AUTH_HEADER_NAME, "").encode("latin-1")
    authentication = DynamoJWTAuthentication()
    try:
        raw_token = authentication.get_raw_token(header)
        if raw_token is None:
            return None, NOT_SIGNED_IN
        account = authentication.get_validated_token(raw_token).get(api_settings.USER_ID_CLAIM)
    except AuthenticationFailed:
        return None, TOKEN_NOT_VALID
    return (str(account), None) if account else (None, TOKEN_NOT_VALID)


_accounts_reading: dict[str, int] = {}
_accounts_lock = threading.Lock()


@contextlib.contextmanager
def account_turn(account: str) -> Iterator[bool]:
    """Whether ``account`` may have a turn now: at most LARGE_BODIES_PER_ACCOUNT of its
    bodies are read at once in this worker, so that one account (anyone may make one)
    cannot take every turn with a few trickling connections."""
    with _accounts_lock:
        taken = _accounts_reading.get(account, 0) < LARGE_BODIES_PER_ACCOUNT
        if taken:
            _accounts_reading[account] = _accounts_reading.get(account, 0) + 1
    try:
        yield taken
    finally:
        if taken:
            with _accounts_lock:
                left = _accounts_reading[account] - 1
                if left:
                    _accounts_reading[account] = left
                else:
                    del _accounts_reading[account]


class TooSlow(ApplicationError):
    """A body fell behind LARGE_BODY_MIN_BYTES_PER_SECOND (after its grace): a 408 when
    the view was reading it (``PacedInput``)."""

    status_code = 408
    default_code = "request_timeout"
    default_message = (
        "The request's body came too slowly; nothing was stored, please send it again."
    )


class Pace:
    """The least pace of a large body in its turn: each byte buys
    1/LARGE_BODY_MIN_BYTES_PER_SECOND seconds beyond the grace."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def seconds_left(self, size: int) -> float:
        """How long the next read may take, with ``size`` bytes read in this turn."""
        allowed = LARGE_BODY_GRACE_SECONDS + size / LARGE_BODY_MIN_BYTES_PER_SECOND
        return self.started + allowed - time.monotonic()

    @contextlib.contextmanager
    def bounding(self, size: int) -> Iterator[None]:
        """A read, ``TooSlow`` past the pace: cut short where the worker's requests are
        greenlets (gevent's timeout, as in production), else found before the next read."""
        left = self.seconds_left(size)
        if left <= 0:
            raise TooSlow()
        if not cooperative():
            yield
            return
        import gevent

        with gevent.Timeout(left, TooSlow()):
            yield


class PacedInput:
    """``wsgi.input`` of a large body that declares its length: each read ``TooSlow``
    once the body falls behind its ``Pace`` (counted from the first read: the view reads
    it after authentication, in its photo turn)."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.pace: Pace | None = None
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        return self._paced(self.source.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._paced(self.source.readline, size)

    def _paced(self, read: Callable[[int], bytes], size: int) -> bytes:
        if self.pace is None:
            self.pace = Pace()
        with self.pace.bounding(self.size):
            piece = read(size)
        self.size += len(piece)
        return piece


class ClosingResponse:
    """The application's response, which also closes the body read for it when the server
    closes the response (PEP 3333's ``close``)."""

    def __init__(self, response: Iterable[bytes], body: IO[bytes]) -> None:
        self.response = response
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.response)

    def close(self) -> None:
        try:
            if hasattr(self.response, "close"):
                self.response.close()
        finally:
            self.body.close()
