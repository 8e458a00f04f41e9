"""A request body sent in chunks (``Transfer-Encoding: chunked``) reaches Django with its
length.

    application = ChunkedBodies(get_wsgi_application())     # dermalens_site/wsgi.py

Django reads a request body up to its Content-Length, and a chunked body has none: Django
and DRF take it as empty, so a chunked sign-in was refused for a missing email and a
chunked upload for a missing photo. HTTP clients send a body in chunks when they stream
it without knowing its length first (a photo read from a file, say), and the load
balancer passes such a request on as it came.

This WSGI middleware reads such a body before Django sees the request: at most one byte
past the limit for its content type (``body_limit``), in memory up to
``IN_MEMORY_BYTES`` (a JSON body's limit) and in a temporary file past that. It is read
before the request is authenticated, so what a stranger can make the worker hold is
bounded: past ``IN_MEMORY_BYTES``, at most ``LARGE_BODIES_AT_ONCE`` bodies per worker
are read at once (the others wait their turn), at most ``MAX_UPLOAD_BODY_BYTES`` on
disk each. A body that declares its length is read only by the view, after
authentication, and is not held here. Django then gets the body with its
Content-Length, so everything after is as for a body that declared its length:
BodySizeLimitMiddleware refuses one past the limit with the same 413, and one whose
chunks are not valid HTTP is marked (``MALFORMED_BODY``) for that middleware to answer
400 ``malformed_request``. A client that leaves mid-body is gunicorn's to handle, as
with any body.

It reads only where the server ends the input at the end of the body
(``wsgi.input_terminated``, as gunicorn does); elsewhere the request passes untouched.
"""

import functools
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from django.conf import settings
from django.utils.http import parse_header_parameters
from gunicorn.http.errors import ParseException

# Set in the WSGI environ when the chunks of a body are not valid HTTP.
MALFORMED_BODY = "dermalens.malformed_body"
READ_SIZE = 64 * 1024
# Kept in memory up to this much (the default JSON limit); a larger body (a photo) goes
# to a temporary file.
IN_MEMORY_BYTES = 64 * 1024
# Bodies past IN_MEMORY_BYTES read at once per worker process.
LARGE_BODIES_AT_ONCE = 4


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
            return self.application(environ, start_response)
        content_type = parse_header_parameters(environ.get("CONTENT_TYPE", ""))[0]
        limit = body_limit(content_type)
        # Closed with the response (ClosingResponse), or here if reading fails.
        body = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY_BYTES)  # noqa: SIM115
        try:
            size = read_body(environ["wsgi.input"], body, limit=min(limit, IN_MEMORY_BYTES))
            if IN_MEMORY_BYTES < size <= limit:  # a large body (a photo): read in turn
                with large_bodies():
                    size += read_body(environ["wsgi.input"], body, limit=limit - size)
        except ParseException:
            environ[MALFORMED_BODY] = True
            size = 0
        except BaseException:
            body.close()
            raise
        body.seek(0)
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = body, str(size)
        return ClosingResponse(self.application(environ, start_response), body)


def read_body(source: IO[bytes], body: IO[bytes], *, limit: int) -> int:
    """Copy ``source`` into ``body`` to its end or one byte past ``limit``; the size copied."""
    size = 0
    while size <= limit and (piece := source.read(min(READ_SIZE, limit + 1 - size))):
        body.write(piece)
        size += len(piece)
    return size


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
