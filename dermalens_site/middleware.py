"""Request middleware: the load balancer's health checks, one structured log line per
request, early body-size limits, and the work slots of the requests that call the AI.

The log line holds method, path (no query string, and no credential in it: see
``dermalens_site.log_paths``), status, duration, request id and the caller's user id;
never a header, a token, a password or a body.
"""

import ipaddress
import logging
import re
import time
import uuid
from typing import cast

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import split_domain_port, validate_host

from dermalens_site.chunked_bodies import (
    MALFORMED_BODY,
    NO_TURN,
    NOT_SIGNED_IN,
    TOKEN_NOT_VALID,
    UNREAD_BODY,
    TooSlow,
    body_limit,
)
from dermalens_site.concurrency import (
    WorkGate,
    ai_work_gate,
    free_slot_while_sending,
    photo_work_gate,
)
from dermalens_site.errors import RETRY_AFTER_SECONDS_UNAVAILABLE, error_body, spread
from dermalens_site.log_paths import loggable_path
from dynamo import client as dynamo_client
from telemetry import record

logger = logging.getLogger("dermalens.request")

REQUEST_ID_HEADER = "X-Request-ID"
# A client (or the load balancer) may pass its own id; anything odd is replaced.
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


API_PATH_PREFIX = "/api/"
HEALTH_PATH_PREFIX = "/api/v1/health"


class HealthCheckHostMiddleware:
    """An Application Load Balancer's health checks name the target's private IP address
    as their Host (it sends no other), and that is not the API's name in ALLOWED_HOSTS:
    Django answered them 400 (DisallowedHost), so every target was unhealthy and the
    service took no traffic. On the health paths alone, a Host that is a private IP
    address is read as the API's own name; every other path, and every other Host on
    these, is checked as before. First in MIDDLEWARE, before anything reads the host.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(HEALTH_PATH_PREFIX):
            domain, _ = split_domain_port(request.META.get("HTTP_HOST", ""))
            name = own_host_name()
            if (
                name
                and is_private_address(domain)
                and not validate_host(domain, settings.ALLOWED_HOSTS)
            ):
                request.META["HTTP_HOST"] = name
        return cast(HttpResponse, self.get_response(request))


class AllowedHostMiddleware:
    """A Host that ALLOWED_HOSTS does not name is a 400 in the API's error shape, also with
    DEBUG on (as ``make run`` serves): Django answered it there with its HTML debug page,
    which lists the settings, where without DEBUG ``handler400`` answers in JSON. After
    the middleware that set the security headers and the request's log, so its answer
    has them as every other does."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Without DEBUG, Django's own answer is handler400's JSON (and its security log
        # line): nothing to do here, and nothing added to every request.
        if settings.DEBUG:
            try:
                request.get_host()
            except DisallowedHost:
                return JsonResponse(error_body("bad_request", "Bad request."), status=400)
        return cast(HttpResponse, self.get_response(request))


def own_host_name() -> str | None:
    """The first exact name in ALLOWED_HOSTS (not a wildcard or a subdomain pattern)."""
    return next(
        (host for host in settings.ALLOWED_HOSTS if host != "*" and not host.startswith(".")),
        None,
    )


def is_private_address(domain: str) -> bool:
    try:
        return ipaddress.ip_address(domain.strip("[]")).is_private
    except ValueError:
        return False  # a name, not an address


class LoggedRequest(HttpRequest):
    """A request this middleware saw: ``request_id`` names it in the log and the answer."""

    request_id: str


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        cast(LoggedRequest, request).request_id = request_id
        started = time.perf_counter()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        duration = time.perf_counter() - started
        match = request.resolver_match
        record.http_request(
            # The route pattern, never the path: ids in paths would make a metric per scan.
            route=(match.route or match.view_name) if match else "unmatched",
            method=request.method or "",
            status=response.status_code,
            seconds=duration,
        )
        user = getattr(request, "user", None)
        logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": loggable_path(request.path),
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 2),
                "user_id": getattr(user, "user_id", None),
            },
        )
        return response


class PrivateAnswersMiddleware:
    """Every answer under /api/ is ``Cache-Control: no-store`` unless its view said how it
    may be kept (an image's short private max-age, a stream's no-cache). The answers hold
    a person's health data, signed image URLs and, at sign-in, tokens (RFC 6749, 5.1),
    which no browser, app or proxy cache should keep."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = cast(HttpResponse, self.get_response(request))
        if request.path_info.startswith(API_PATH_PREFIX) and not response.has_header(
            "Cache-Control"
        ):
            response["Cache-Control"] = "no-store"
        return response


class BodySizeLimitMiddleware:
    """Refuse an oversized body from its Content-Length, before anything reads it, a
    body whose chunks were not valid HTTP, and a body left unread: a large chunked one,
    or one that came too slowly (``dermalens_site.chunked_bodies``).

    Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only when ``request.body`` is read, and
    DRF's parsers read the stream directly, so without this a 100 MB JSON body would be
    read and parsed before validation refused it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get(MALFORMED_BODY):
            return JsonResponse(
                error_body("malformed_request", "The request body's chunks are not valid HTTP."),
                status=400,
            )
        if unread := request.META.get(UNREAD_BODY):
            return unread_body_answer(request, unread)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(error_body("bad_request", "Invalid Content-Length."), status=400)
        limit = body_limit(request.content_type or "")
        if length > limit:
            return JsonResponse(
                error_body(
                    "request_too_large",
                    "The request body is too large.",
                    {"max_bytes": limit},
                ),
                status=413,
            )
        return self.get_response(request)


class IdentityBodiesMiddleware:
    """Refuse a request body in a content coding (``Content-Encoding: gzip``, ``br``, ...)
    with a 415 that names the one the API reads (RFC 9110, 15.5.16): nothing here decodes
    one, so a gzipped JSON body was a 400 "JSON parse error" about its bytes, a gzipped
    photo an unsupported image, and a body that named a coding it did not have was taken
    as it came. Decoding instead would let a few KiB inflate to whatever the body limits
    allow only after inflating."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # After BodySizeLimitMiddleware, which refuses a Content-Length that is no number.
        has_body = int(request.META.get("CONTENT_LENGTH") or 0) > 0
        codings = (
            [
                coding.strip().lower()
                for coding in request.META.get("HTTP_CONTENT_ENCODING", "").split(",")
                if coding.strip()
            ]
            if has_body
            else []
        )
        if any(coding != "identity" for coding in codings):
            response = JsonResponse(
                error_body(
                    "unsupported_content_encoding",
                    "Send the request body as it is, without a Content-Encoding.",
                    {"accepted": ["identity"]},
                ),
                status=415,
            )
            response["Accept-Encoding"] = "identity"
            return response
        return cast(HttpResponse, self.get_response(request))


def unread_body_answer(request: HttpRequest, reason: str) -> JsonResponse:
    """The answer to a body left unread, by ``reason`` (chunked_bodies): a large chunked
    one, or any that came too slowly."""
    if reason in (NOT_SIGNED_IN, TOKEN_NOT_VALID):
        from rest_framework.request import Request

        from accounts.authentication import DynamoJWTAuthentication

        # As DRF answers the same token: a client refreshes on ``token_not_valid``.
        code = "not_authenticated" if reason == NOT_SIGNED_IN else "token_not_valid"
        response = JsonResponse(
            error_body(
                code,
                "A body this large (a photo) is read only with a valid access token.",
            ),
            status=401,
        )
        authentication = DynamoJWTAuthentication()
        response["WWW-Authenticate"] = authentication.authenticate_header(Request(request))
    elif reason == NO_TURN:
        response = JsonResponse(
            error_body(
                "unavailable",
                "Too many photos are being received right now; nothing was stored, please "
                "send it again shortly.",
            ),
            status=503,
        )
        response["Retry-After"] = str(spread(RETRY_AFTER_SECONDS_UNAVAILABLE))
    else:
        response = JsonResponse(
            error_body(TooSlow.default_code, TooSlow.default_message), status=TooSlow.status_code
        )
    return response


class AIWorkSlotMiddleware:
    """A request that calls the AI or works on a photo runs its view in one of the
    worker's work slots (``dermalens_site.concurrency``), in a gevent worker.

    A view names such actions (a viewset's action names, an APIView's methods) in
    ``ai_actions`` (they wait on Gemini: the AI slots) or ``photo_actions`` (they decode
    and store a photo: the fewer photo slots). The slot is taken here, before the view
    authenticates or reads anything, so a burst of them never fills the run queue;
    every other request passes by. Last in MIDDLEWARE: the others' ``process_view``
    (CSRF) has run when this one calls the view. Loading it arranges for the worker's
    DynamoDB client to free a slot while its request's call is on the wire
    (``free_slot_while_sending``).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.gates: dict[str | None, WorkGate | None] = {
            "ai": ai_work_gate(),
            "photo": photo_work_gate(),
        }
        if free_slot_while_sending not in dynamo_client.CLIENT_HOOKS:
            dynamo_client.CLIENT_HOOKS.append(free_slot_while_sending)
        free_slot_while_sending(dynamo_client.get_client())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs) -> HttpResponse | None:
        gate = self.gates.get(slot_kind(view_func, request.method or ""))
        if gate is None:
            return None
        with gate.occupied():
            return cast(HttpResponse, view_func(request, *view_args, **view_kwargs))


def slot_kind(view_func, method: str) -> str | None:
    """``"ai"``, ``"photo"``, or None for a request that takes no work slot."""
    view_class = getattr(view_func, "cls", None)
    actions = getattr(view_func, "actions", None)  # a viewset's {"post": "send"}
    name = actions.get(method.lower()) if actions else method.lower()
    if name in getattr(view_class, "photo_actions", ()):
        return "photo"
    if name in getattr(view_class, "ai_actions", ()):
        return "ai"
    return None
