"""A chunked request body is read before Django and handed on with its length.

Here the WSGI middleware runs in this process in front of a recording application,
with the input as gunicorn gives it (the chunks already decoded, the input ending at the
body's end); tests/test_serving.py sends chunked requests to gunicorn itself.
"""

import datetime as dt
import io
import threading
import time
import uuid

import pytest
from django.conf import settings
from django.test import Client
from gunicorn.http.errors import InvalidChunkSize
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from dermalens_site import chunked_bodies
from dermalens_site.chunked_bodies import (
    IN_MEMORY_BYTES,
    LARGE_BODIES_AT_ONCE,
    MALFORMED_BODY,
    NO_TURN,
    NOT_SIGNED_IN,
    READ_SIZE,
    TOKEN_NOT_VALID,
    TOO_SLOW,
    UNREAD_BODY,
    ChunkedBodies,
)


class Recorder:
    """A WSGI application that reads its body the way Django does (up to CONTENT_LENGTH)."""

    def __init__(self) -> None:
        self.environ: dict = {}
        self.body = b""

    def __call__(self, environ, start_response):
        self.environ = environ
        self.body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


class BrokenChunks(io.RawIOBase):
    """Input that gives ``good`` bytes, then fails as gunicorn's reader does on a bad chunk."""

    def __init__(self, good: bytes) -> None:
        self.good = io.BytesIO(good)

    def read(self, size: int = -1) -> bytes:
        piece = self.good.read(size)
        if not piece:
            raise InvalidChunkSize(b"ZZ")
        return piece


def bearer(token: AccessToken | RefreshToken) -> str:
    return f"Bearer {token}"


def signed_in(account: str | None = None) -> str:
    """An Authorization header with an access token this service signed, of ``account``
    (a new one unless named)."""
    token = AccessToken()
    token["sub"] = account or uuid.uuid4().hex
    return bearer(token)


def environ_for(body: bytes | io.RawIOBase, content_type: str, **extra) -> dict:
    """A chunked request as gunicorn hands it on, from a signed-in sender unless
    ``extra`` says otherwise."""
    return {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": content_type,
        "HTTP_AUTHORIZATION": signed_in(),
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": body if isinstance(body, io.RawIOBase) else io.BytesIO(body),
        "wsgi.input_terminated": True,
        **extra,
    }


def run(environ: dict) -> Recorder:
    recorder = Recorder()
    response = ChunkedBodies(recorder)(environ, lambda status, headers: None)
    assert b"".join(response) == b"ok"
    if hasattr(response, "close"):  # as the WSGI server does
        response.close()
    return recorder


@pytest.mark.parametrize(
    ("size", "content_type"),
    [
        (0, "application/json"),
        (40, "application/json"),
        (settings.MAX_JSON_BODY_BYTES, "application/json; charset=utf-8"),
        # Past FILE_UPLOAD_MAX_MEMORY_SIZE: kept in a temporary file, not in memory.
        (settings.FILE_UPLOAD_MAX_MEMORY_SIZE + 1, "multipart/form-data; boundary=x"),
    ],
)
def test_a_body_within_its_limit_reaches_the_application_whole(size, content_type):
    body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    recorder = run(environ_for(body, content_type))
    assert recorder.body == body
    assert recorder.environ["CONTENT_LENGTH"] == str(size)
    assert MALFORMED_BODY not in recorder.environ


@pytest.mark.parametrize(
    ("size", "on_disk"), [(IN_MEMORY_BYTES, False), (IN_MEMORY_BYTES + 1, True)]
)
def test_only_a_body_past_a_json_body_s_size_goes_to_a_temporary_file(size, on_disk):
    recorder = run(environ_for(b"x" * size, "multipart/form-data; boundary=x"))
    assert recorder.environ["wsgi.input"]._rolled is on_disk  # SpooledTemporaryFile's


class SlowPhoto(io.RawIOBase):
    """A large body whose sender pauses after its first 64 KiB until told to go on."""

    def __init__(self, go_on: threading.Event, reading: list[int]) -> None:
        self.body = io.BytesIO(b"x" * (IN_MEMORY_BYTES * 3))
        self.go_on = go_on
        self.reading = reading

    def read(self, size: int = -1) -> bytes:
        if self.body.tell() > IN_MEMORY_BYTES and not self.go_on.is_set():
            self.reading.append(1)
            self.go_on.wait(timeout=10)
        return self.body.read(size)


def test_at_most_a_few_large_bodies_are_read_at_once():
    """Bodies are read before the account is checked: what their senders can make a
    worker hold at once is bounded."""
    go_on, reading = threading.Event(), []
    senders = [
        threading.Thread(
            target=run,
            args=(environ_for(SlowPhoto(go_on, reading), "multipart/form-data; boundary=x"),),
        )
        for _ in range(LARGE_BODIES_AT_ONCE + 3)
    ]
    for sender in senders:
        sender.start()
    time.sleep(0.5)
    assert len(reading) == LARGE_BODIES_AT_ONCE
    go_on.set()
    for sender in senders:
        sender.join(timeout=10)
    assert not any(sender.is_alive() for sender in senders)


def expired() -> str:
    token = AccessToken()
    # Past the leeway that the check gives a clock that runs a little behind.
    token.set_exp(lifetime=-dt.timedelta(seconds=settings.SIMPLE_JWT["LEEWAY"] + 1))
    return bearer(token)


@pytest.mark.parametrize(
    ("authorization", "why"),
    [
        (None, NOT_SIGNED_IN),
        ("Basic dXNlcjpwYXNz", NOT_SIGNED_IN),
        ("Bearer not-a-token", TOKEN_NOT_VALID),
        ("Bearer", TOKEN_NOT_VALID),
        pytest.param("tampered", TOKEN_NOT_VALID, id="signature-changed"),
        pytest.param("expired", TOKEN_NOT_VALID, id="expired"),
        pytest.param("refresh", TOKEN_NOT_VALID, id="a-refresh-token"),
    ],
)
def test_a_large_body_is_read_only_from_a_sender_with_a_valid_access_token(authorization, why):
    """A photo's bytes past the first 64 KiB wait for no turn and are not read at all
    for a sender this service gave no valid access token: the request is answered 401."""
    if authorization == "tampered":
        header, payload, signature = signed_in().removeprefix("Bearer ").split(".")
        authorization = f"Bearer {header}.{payload}.{signature[::-1]}"
    elif authorization == "expired":
        authorization = expired()
    elif authorization == "refresh":
        authorization = bearer(RefreshToken())
    source = io.BytesIO(b"x" * (IN_MEMORY_BYTES * 4))
    environ = environ_for(b"", "multipart/form-data; boundary=x", **{"wsgi.input": source})
    if authorization is None:
        del environ["HTTP_AUTHORIZATION"]
    else:
        environ["HTTP_AUTHORIZATION"] = authorization
    recorder = run(environ)
    assert recorder.environ[UNREAD_BODY] == why
    assert recorder.environ["CONTENT_LENGTH"] == "0" and recorder.body == b""
    assert source.tell() <= IN_MEMORY_BYTES + 1


def test_a_sender_waits_for_a_turn_a_bounded_time(monkeypatch):
    monkeypatch.setattr(chunked_bodies, "LARGE_BODY_WAIT_SECONDS", 0.3)
    turns = chunked_bodies.large_bodies()
    for _ in range(LARGE_BODIES_AT_ONCE):
        assert turns.acquire(timeout=1)
    try:
        started = time.monotonic()
        recorder = run(environ_for(b"x" * (IN_MEMORY_BYTES * 2), "multipart/form-data; b=x"))
        waited = time.monotonic() - started
    finally:
        for _ in range(LARGE_BODIES_AT_ONCE):
            turns.release()
    assert recorder.environ[UNREAD_BODY] == NO_TURN
    assert recorder.environ["CONTENT_LENGTH"] == "0"
    assert 0.3 <= waited < 2
    # Once the turns are free again, the same body is read.
    assert run(environ_for(b"x" * (IN_MEMORY_BYTES * 2), "multipart/form-data; b=x")).body


def test_one_account_has_one_turn_at_a_time_and_others_keep_theirs():
    """Anyone may make an account: one account's trickling connections would otherwise
    take every turn of the worker."""
    go_on, reading = threading.Event(), []
    one_account = signed_in("one-account")
    first = threading.Thread(
        target=run,
        args=(
            environ_for(
                SlowPhoto(go_on, reading),
                "multipart/form-data; boundary=x",
                HTTP_AUTHORIZATION=one_account,
            ),
        ),
    )
    first.start()
    try:
        deadline = time.monotonic() + 5
        while not reading and time.monotonic() < deadline:
            time.sleep(0.01)
        assert reading  # the first body holds its account's turn
        again = run(
            environ_for(
                b"x" * (IN_MEMORY_BYTES * 2),
                "multipart/form-data; b=x",
                HTTP_AUTHORIZATION=one_account,
            )
        )
        assert again.environ[UNREAD_BODY] == NO_TURN
        another = run(
            environ_for(
                b"x" * (IN_MEMORY_BYTES * 2),
                "multipart/form-data; b=x",
                HTTP_AUTHORIZATION=signed_in("another-account"),
            )
        )
        assert UNREAD_BODY not in another.environ and another.body
    finally:
        go_on.set()
        first.join(timeout=10)
    # Its turn given back, the account's next body is read.
    after = run(
        environ_for(
            b"x" * (IN_MEMORY_BYTES * 2), "multipart/form-data; b=x", HTTP_AUTHORIZATION=one_account
        )
    )
    assert UNREAD_BODY not in after.environ and after.body


class TricklingPhoto(io.RawIOBase):
    """A large body that comes at full speed for its first 64 KiB, then a little at a
    time, ``pause`` seconds apart."""

    def __init__(self, pause: float) -> None:
        self.body = io.BytesIO(b"x" * (IN_MEMORY_BYTES * 2))
        self.pause = pause

    def read(self, size: int = -1) -> bytes:
        if self.body.tell() >= IN_MEMORY_BYTES:
            time.sleep(self.pause)
            return self.body.read(min(size, 100))
        return self.body.read(size)


def test_a_large_body_that_falls_behind_the_pace_is_given_up_and_its_turn_freed(monkeypatch):
    monkeypatch.setattr(chunked_bodies, "LARGE_BODY_GRACE_SECONDS", 0.3)
    started = time.monotonic()
    recorder = run(environ_for(TricklingPhoto(pause=0.05), "multipart/form-data; b=x"))
    assert recorder.environ[UNREAD_BODY] == TOO_SLOW
    assert recorder.environ["CONTENT_LENGTH"] == "0"
    assert time.monotonic() - started < 3
    # Every turn was given back: as many large bodies as there are turns are read at once.
    go_on, reading = threading.Event(), []
    senders = [
        threading.Thread(
            target=run,
            args=(environ_for(SlowPhoto(go_on, reading), "multipart/form-data; boundary=x"),),
        )
        for _ in range(LARGE_BODIES_AT_ONCE)
    ]
    for sender in senders:
        sender.start()
    time.sleep(0.5)
    go_on.set()
    for sender in senders:
        sender.join(timeout=10)
    assert len(reading) == LARGE_BODIES_AT_ONCE


def test_a_large_body_that_keeps_the_pace_is_read_whole(monkeypatch):
    monkeypatch.setattr(chunked_bodies, "LARGE_BODY_GRACE_SECONDS", 0.3)
    monkeypatch.setattr(chunked_bodies, "LARGE_BODY_MIN_BYTES_PER_SECOND", 100 / 0.05)
    recorder = run(environ_for(TricklingPhoto(pause=0.01), "multipart/form-data; b=x"))
    assert UNREAD_BODY not in recorder.environ
    assert recorder.body == b"x" * (IN_MEMORY_BYTES * 2)


@pytest.mark.parametrize(
    ("reason", "status", "code", "header"),
    [
        (NOT_SIGNED_IN, 401, "not_authenticated", "WWW-Authenticate"),
        (TOKEN_NOT_VALID, 401, "token_not_valid", "WWW-Authenticate"),
        (NO_TURN, 503, "unavailable", "Retry-After"),
        (TOO_SLOW, 408, "request_timeout", None),
    ],
)
def test_a_body_left_unread_is_answered_with_why_before_any_view(reason, status, code, header):
    multipart = "multipart/form-data; boundary=x"
    response = Client().post("/api/v1/scans", b"", content_type=multipart, **{UNREAD_BODY: reason})
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if header:
        assert response[header]


def test_the_body_read_for_the_application_is_closed_with_the_response():
    body = b"x" * (settings.FILE_UPLOAD_MAX_MEMORY_SIZE + 1)
    recorder = run(environ_for(body, "multipart/form-data; boundary=x"))
    assert recorder.body == body
    assert recorder.environ["wsgi.input"].closed


@pytest.mark.parametrize(
    ("content_type", "limit"),
    [
        ("application/json", settings.MAX_JSON_BODY_BYTES),
        ("multipart/form-data; boundary=x", settings.MAX_UPLOAD_BODY_BYTES),
    ],
)
def test_a_body_past_its_limit_is_read_one_byte_past_it(content_type, limit):
    source = io.BytesIO(b"x" * (limit + 10_000))
    recorder = run(environ_for(b"", content_type, **{"wsgi.input": source}))
    # BodySizeLimitMiddleware refuses the length as it refuses a declared one.
    assert recorder.environ["CONTENT_LENGTH"] == str(limit + 1)
    assert source.tell() == limit + 1


def test_chunks_that_are_not_valid_http_are_marked_for_a_400():
    recorder = run(environ_for(BrokenChunks(b'{"email": '), "application/json"))
    assert recorder.environ[MALFORMED_BODY] is True
    assert recorder.environ["CONTENT_LENGTH"] == "0"


@pytest.mark.parametrize(
    "environ",
    [
        {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "", "wsgi.input": io.BytesIO(b"")},
        # A server that does not end the input at the body's end (wsgiref, runserver).
        {"CONTENT_LENGTH": "", "wsgi.input_terminated": False, "wsgi.input": io.BytesIO(b"")},
    ],
    ids=["no-body", "input-not-terminated"],
)
def test_requests_without_a_body_pass_untouched(environ):
    sent = environ_for(b"", "application/json", **environ)
    given = dict(sent)
    recorder = run(sent)
    assert recorder.environ["wsgi.input"] is given["wsgi.input"]
    assert recorder.environ.get("CONTENT_LENGTH") == given.get("CONTENT_LENGTH")


class Endless(io.RawIOBase):
    """An input that would wait for the next request past the body: as runserver's does."""

    def __init__(self, body: bytes) -> None:
        self.body = io.BytesIO(body)

    def read(self, size: int = -1) -> bytes:
        piece = self.body.read(size)
        assert piece, "read past the declared length"
        return piece


@pytest.mark.parametrize("size", [1, IN_MEMORY_BYTES])
def test_a_body_that_declares_its_length_reaches_the_application_whole(size):
    body = b"x" * size
    recorder = run(
        environ_for(
            b"",
            "application/json",
            HTTP_TRANSFER_ENCODING="",
            CONTENT_LENGTH=str(size),
            **{"wsgi.input": Endless(body)},
        )
    )
    assert recorder.body == body
    assert UNREAD_BODY not in recorder.environ


class Trickling(io.RawIOBase):
    """A body of ``size`` bytes that comes a byte at a time, ``pause`` seconds apart."""

    def __init__(self, pause: float, size: int = 1000) -> None:
        self.pause = pause
        self.body = io.BytesIO(b" " * size)

    def read(self, size: int = -1) -> bytes:
        time.sleep(self.pause)
        return self.body.read(1)


def test_a_body_that_declares_its_length_and_falls_behind_the_pace_is_given_up(monkeypatch):
    monkeypatch.setattr(chunked_bodies, "LARGE_BODY_GRACE_SECONDS", 0.3)
    started = time.monotonic()
    recorder = run(
        environ_for(
            b"",
            "application/json",
            HTTP_TRANSFER_ENCODING="",
            CONTENT_LENGTH="1000",
            **{"wsgi.input": Trickling(pause=0.05)},
        )
    )
    assert recorder.environ[UNREAD_BODY] == TOO_SLOW
    assert recorder.body == b""
    assert time.monotonic() - started < 3


def test_a_large_body_that_declares_its_length_is_paced_as_the_view_reads_it(monkeypatch):
    monkeypatch.setattr(chunked_bodies, "LARGE_BODY_GRACE_SECONDS", 0.3)
    size = IN_MEMORY_BYTES * 2
    environ = environ_for(
        b"",
        "multipart/form-data; boundary=x",
        HTTP_TRANSFER_ENCODING="",
        CONTENT_LENGTH=str(size),
        **{"wsgi.input": Trickling(pause=0.01, size=size)},
    )
    given = run(environ).environ["wsgi.input"]  # the view reads it, after authentication
    with pytest.raises(chunked_bodies.TooSlow) as refused:
        while given.read(READ_SIZE):
            pass
    assert refused.value.status_code == 408
    assert given.size < size
