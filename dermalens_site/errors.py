"""One error shape for every error response of the API, and the handler that makes it.

    {"error": {"code": "not_found", "message": "Scan not found.", "details": {}}}

Services raise ``ApplicationError`` subclasses, which carry their HTTP meaning as class
attributes (as DRF's ``APIException`` does); the data layer raises ``dynamo.errors``,
mapped here; DRF's own exceptions (validation, authentication, throttling, parsing)
keep their status and get the same shape, rendered as JSON whatever the view renders
when it succeeds (the OpenAPI schema's YAML, the documentation's HTML, a chat reply's
event stream). Anything else is a 500 with a generic message (the traceback goes to the
log, never to the client). What a request asked to be done should it end in an answered
error (``on_error``: a limit giving back a malformed request's count) is done here.
"""

import logging
import secrets
from collections.abc import Callable
from typing import Any, cast

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from dynamo import errors as dynamo_errors

logger = logging.getLogger("dermalens.errors")

RETRY_AFTER_SECONDS_UNAVAILABLE = 2


def spread(seconds: int) -> int:
    """A Retry-After for a failure that many clients meet at once (Gemini down or
    rate-limited, DynamoDB unavailable, a worker's line full): a whole number of seconds
    drawn evenly from ``seconds`` to one and a half times it, plus one.

    Told the same delay, every phone that failed in the same second retries in the same
    second, and a provider that is recovering gets the whole burst back at once. Drawn
    per answer, the retries of a burst of 5 s answers arrive over 4 s (5-8 s) instead.
    Limits whose end is known exactly (a daily allowance, a throttle's window) keep it.
    """
    return seconds + secrets.randbelow(seconds // 2 + 2)


class ApplicationError(Exception):
    """Base of the errors that use cases raise on purpose."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_request"
    default_message = "The request cannot be processed."
    retry_after_seconds: int | None = None

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_message = "The request conflicts with the current state."


class AuthenticationError(ApplicationError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "authentication_failed"
    default_message = "Authentication failed."


class ServiceUnavailable(ApplicationError):
    """A 503: the class's ``retry_after_seconds`` is the least wait, each answer's own is
    ``spread`` from it."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_message = "The service is unavailable right now; please retry shortly."
    retry_after_seconds = RETRY_AFTER_SECONDS_UNAVAILABLE

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        super().__init__(message, details=details)
        if self.retry_after_seconds:
            self.retry_after_seconds = spread(self.retry_after_seconds)


class IdempotencyKeyReused(ApplicationError):
    """The Idempotency-Key came with another request: a 422 (subclasses say which)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


class IdempotencyKeyInFlight(Conflict):
    """The first request with the Idempotency-Key is still asking the assistant: a 409
    with a ``spread`` Retry-After."""

    default_code = "idempotency_key_in_flight"
    least_retry_after_seconds = 5

    def __init__(self) -> None:
        super().__init__()
        self.retry_after_seconds = spread(self.least_retry_after_seconds)


# Data-layer errors: (HTTP status, code). Order matters: subclasses first.
DYNAMO_ERRORS: tuple[tuple[type[dynamo_errors.DynamoError], int, str], ...] = (
    (dynamo_errors.AccountClosed, 401, "user_inactive"),
    (dynamo_errors.ItemNotFound, 404, "not_found"),
    (dynamo_errors.PreconditionFailed, 412, "precondition_failed"),
    (dynamo_errors.VersionConflict, 409, "version_conflict"),
    (dynamo_errors.ConditionFailed, 409, "conflict"),
    (dynamo_errors.InvalidCursor, 400, "invalid_cursor"),
    (dynamo_errors.Unavailable, 503, "unavailable"),
)

DRF_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ValidationError: "invalid",
}


# The codes a refused bearer token says why with (accounts.authentication and
# simplejwt): kept, where DRF_CODES would answer every one "authentication_failed".
AUTHENTICATION_CODES = frozenset({"token_not_valid", "token_revoked", "user_inactive"})


# Where a request keeps what to do should it end in an error answered here (``on_error``).
ON_ERROR = "dermalens_on_error"


def on_error(request, action: Callable[[Exception, int], None]) -> None:
    """Have ``action(exc, status_code)`` called if ``request`` ends in an error that the
    exception handler answers: a limit gives back what it counted for a request refused
    for its input (``accounts.throttles``). Nothing is called for a success or a 500."""
    actions: list[Callable[[Exception, int], None]] | None = getattr(request, ON_ERROR, None)
    if actions is None:
        actions = []
        setattr(request, ON_ERROR, actions)
    actions.append(action)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every handled error leaves in the one shape."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        code, message, details, status_code = (
            exc.default_code,
            exc.message,
            exc.details,
            exc.status_code,
        )
        if exc.retry_after_seconds:
            headers["Retry-After"] = str(exc.retry_after_seconds)
            if status_code == status.HTTP_429_TOO_MANY_REQUESTS:
                # In the body too, as every 429 says it: not every client reads headers.
                details = {"retry_after_seconds": exc.retry_after_seconds, **details}
    elif isinstance(exc, dynamo_errors.DynamoError):
        status_code, code = next(
            (status_code, code)
            for kind, status_code, code in DYNAMO_ERRORS
            if isinstance(exc, kind)
        )
        message, details = exc.message, {}
        if isinstance(exc, dynamo_errors.VersionConflict) and exc.current_version is not None:
            details = {"current_version": exc.current_version}
        if isinstance(exc, dynamo_errors.Unavailable):
            headers["Retry-After"] = str(spread(RETRY_AFTER_SECONDS_UNAVAILABLE))
            logger.warning("dynamodb unavailable", extra={"cause": type(exc.cause).__name__})
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        code, message, details = describe_api_exception(exc)
        # Throttled sets ``wait`` (seconds until the window frees); its stub omits it.
        wait: float | None = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            headers["Retry-After"] = str(int(wait) + 1)
            # In the body too, as a locked login says it: not every client reads headers.
            details = {"retry_after_seconds": int(wait) + 1}
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
    elif isinstance(exc, Http404):
        status_code, code, message, details = 404, "not_found", "Not found.", {}
    elif isinstance(exc, RequestDataTooBig):
        status_code, code, details = 413, "request_too_large", {}
        message = "The request body is too large."
    elif isinstance(exc, SuspiciousOperation):
        status_code, code, message, details = 400, "bad_request", "Bad request.", {}
    else:
        return None
    set_rollback()
    request = context.get("request")
    for action in getattr(request, ON_ERROR, ()):
        action(exc, status_code)
    if request is not None:
        # DRF renders the answer with the renderer negotiated for the view's success.
        renderer = error_renderer()
        request.accepted_renderer = renderer
        request.accepted_media_type = renderer.media_type
    return accounted_for(
        Response(error_body(code, message, details), status=status_code, headers=headers)
    )


def accounted_for(response: Response) -> Response:
    """``response``, marked as logged for Django: an answer the app chose (a 503 while
    DynamoDB or Gemini is down, a 429) is in the request's own log line, and the cause,
    if it is news, in a warning of its own. Django's ``django.request`` logger would add
    an ERROR line for every 5xx: one per request during an outage, beside the alarms
    that count them. A 500 from an unhandled exception is still Django's to log."""
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def error_renderer() -> BaseRenderer:
    """The API's JSON renderer (DEFAULT_RENDERER_CLASSES' first), for every error."""
    # Imported by DRF's settings: classes, though its type stubs say strings.
    renderer_class = cast(type[BaseRenderer], api_settings.DEFAULT_RENDERER_CLASSES[0])
    return renderer_class()


def describe_api_exception(exc: exceptions.APIException) -> tuple[str, str, dict]:
    code = next((c for kind, c in DRF_CODES.items() if isinstance(exc, kind)), None)
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        details = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        return "invalid", "The request is not valid; see details.", _plain(details)
    if isinstance(detail, dict):
        # simplejwt's InvalidToken carries {"detail": ..., "code": ..., "messages": [...]}.
        message = str(detail.get("detail", "Authentication failed."))
        own_code = str(detail.get("code", "error"))
    else:
        message, own_code = str(detail), str(getattr(detail, "code", None) or exc.default_code)
    if isinstance(exc, exceptions.AuthenticationFailed) and own_code in AUTHENTICATION_CODES:
        return own_code, message, {}
    return code or own_code, message, {}


def _plain(value: Any) -> Any:
    """ErrorDetail strings and nested containers to plain JSON values."""
    if isinstance(value, dict):
        return {str(key): _plain(element) for key, element in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(element) for element in value]
    return str(value)


# Django's own handlers, for requests that never reach a DRF view (unknown URLs,
# a failure before routing). They answer in the same JSON shape.
def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(
            error_body("request_too_large", "The request body is too large."), status=413
        )
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse(error_body("permission_denied", "Permission denied."), status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse(error_body("not_found", "Not found."), status=404)


@csrf_exempt
def api_path_not_found(request: HttpRequest) -> JsonResponse:
    """Any path under /api/ that no endpoint answers, by any method. With DEBUG on (as
    ``make run`` serves), Django answers an unmatched path with its HTML debug page, not
    ``handler404``: routed here, an unknown API path is the JSON 404 in every mode."""
    return page_not_found(request, Http404())


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body("server_error", "Something went wrong on our side; please retry."),
        status=500,
    )
