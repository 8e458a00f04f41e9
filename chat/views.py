"""Chat endpoints: sessions (start, list, one, delete) and their messages (list, send).

Sending with ``Accept: text/event-stream`` streams the reply as server-sent events:
``message`` (your stored message), ``delta`` (a piece of the reply, as it comes), then
``reply`` (the stored reply, the last event) or ``error`` (the reply failed after it
began; your message is kept). Every ``data`` line is one JSON object. A client that
leaves before the end still finds the whole reply stored when it comes back.
"""

import inspect
import json
from collections.abc import Generator, Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.throttles import ChatSessionThrottle, UnverifiedAIThrottle
from chat import selectors, services
from chat.serializers import (
    ExchangeSerializer,
    MessageCreateSerializer,
    MessagePageQuerySerializer,
    MessagePageSerializer,
    MessageSerializer,
    SessionCreateSerializer,
    SessionPageSerializer,
    SessionSerializer,
)
from dermalens_site.errors import error_body
from dermalens_site.serializers import (
    ERROR_RESPONSES,
    ErrorSerializer,
    PageQuerySerializer,
    idempotency_key,
    idempotency_key_parameter,
    page_body,
    refuse_fields,
    validated,
)
from jobs.serializers import AcceptedJobSerializer, accepted_body

ERRORS = ERROR_RESPONSES
ULID_PATTERN = "[0-9A-HJKMNP-TV-Z]{26}"
EVENT_STREAM = "text/event-stream"
JSON = "application/json"


class EventStreamRenderer(renderers.BaseRenderer):
    """Lets a client ask for ``text/event-stream``; the view streams the events itself."""

    media_type = EVENT_STREAM
    format = "event-stream"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return json.dumps(data).encode()


class ChatSessionViewSet(viewsets.ViewSet):
    # Run in a work slot of the worker (dermalens_site.middleware.AIWorkSlotMiddleware).
    ai_actions = frozenset({"send"})
    lookup_field = "session_id"
    lookup_value_regex = ULID_PATTERN

    def get_throttles(self):
        if self.action in ("create", "destroy"):
            return [ChatSessionThrottle()]
        if self.action == "send":
            return [UnverifiedAIThrottle()]
        return super().get_throttles()

    def get_renderers(self):
        json_renderers = super().get_renderers()
        request = getattr(self, "request", None)
        if request is not None and request.method == "POST" and self.action == "send":
            return [*json_renderers, EventStreamRenderer()]
        return json_renderers

    @extend_schema(
        parameters=[PageQuerySerializer],
        responses={200: SessionPageSerializer, **ERRORS},
        description="Your chat sessions, newest first, each with its title and last activity.",
    )
    def list(self, request):
        params = validated(PageQuerySerializer, request.query_params)
        page = selectors.list_sessions(
            user_id=request.user.user_id, limit=params["limit"], cursor=params.get("cursor")
        )
        return Response(page_body(page, SessionSerializer))

    @extend_schema(
        request=SessionCreateSerializer,
        responses={201: SessionSerializer, 429: ErrorSerializer, **ERRORS},
    )
    def create(self, request):
        params = validated(SessionCreateSerializer, request.data)
        session = services.start_session(user_id=request.user.user_id, title=params.get("title"))
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: SessionSerializer, **ERRORS})
    def retrieve(self, request, session_id: str):
        session = selectors.get_session(user_id=request.user.user_id, session_id=session_id)
        if session is None:
            raise services.ChatSessionNotFound()
        return Response(SessionSerializer(session).data)

    @extend_schema(
        responses={202: AcceptedJobSerializer, 429: ErrorSerializer, **ERRORS},
        description=(
            "Delete the session and every message in it. The session is gone at once "
            "(not listed, not readable, closed to new messages); its messages are deleted "
            "by a job, which the answer's `url` (also the `Location` header) shows until "
            "it is `done`. Deleting it again while that job is under way answers with the "
            "same job."
        ),
    )
    def destroy(self, request, session_id: str):
        refuse_fields(request.data)
        job = services.delete_session(user_id=request.user.user_id, session_id=session_id)
        body = accepted_body(job)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})

    @extend_schema(
        parameters=[MessagePageQuerySerializer],
        responses={200: MessagePageSerializer, **ERRORS},
        description="The session's messages, oldest first, or newest first with "
        "`order=newest` (a cursor continues in the order it was made for).",
    )
    @action(detail=True, methods=["get"])
    def messages(self, request, session_id: str):
        params = validated(MessagePageQuerySerializer, request.query_params)
        page = selectors.list_messages(
            user_id=request.user.user_id,
            session_id=session_id,
            limit=params["limit"],
            cursor=params.get("cursor"),
            newest_first=params["order"] == "newest",
        )
        if page is None:
            raise services.ChatSessionNotFound()
        return Response(page_body(page, MessageSerializer))

    @extend_schema(
        request=MessageCreateSerializer,
        parameters=[
            idempotency_key_parameter(
                "A retry with the same key (the same session and text) gets the exchange "
                "stored the first time (200, or its stream: `message`, one `delta` with the "
                "whole reply, `reply`), with no second reply counted; while the first is "
                "still being answered, a 409 `idempotency_key_in_flight` with Retry-After; "
                "with another text or session, a 422 `idempotency_key_reused`. After a "
                "failed attempt (503, 422, 429) the key asks again."
            )
        ],
        responses={
            (201, JSON): ExchangeSerializer,
            (200, JSON): OpenApiResponse(
                ExchangeSerializer,
                description="A replay: the exchange stored by the first request with the key.",
            ),
            (200, EVENT_STREAM): OpenApiResponse(
                OpenApiTypes.STR,
                description="With `Accept: text/event-stream`: events `message`, `delta`..., "
                "then `reply` (or `error`).",
            ),
            # Errors are JSON whatever the client asked for.
            **{(code, JSON): ErrorSerializer for code in (400, 401, 404)},
            (409, JSON): OpenApiResponse(
                ErrorSerializer,
                description="`idempotency_key_in_flight` (with Retry-After): the message sent "
                "with this Idempotency-Key is still being answered.",
            ),
            (422, JSON): OpenApiResponse(
                ErrorSerializer,
                description="`message_refused`: the assistant refused the message (kept); "
                "`idempotency_key_reused`: the Idempotency-Key came with another message.",
            ),
            **{(code, JSON): ErrorSerializer for code in (429, 503)},
        },
        description=(
            "Send a message; the answer holds it and the assistant's reply, both stored. "
            "If the assistant fails, your message is kept and the answer is 503 with "
            "Retry-After: send the same text again to retry. If it refuses the message "
            "(its safety filters), the message is kept and the answer is 422 "
            "`message_refused`: ask in other words. Replies per day are limited "
            "(429 with Retry-After past the limit; an account whose email address is not "
            "verified may also get 429 `verify_email_for_ai`, see the README). A stream "
            "ends with `reply`, or with "
            "`error` carrying one of these answers' bodies (also when the reply could not "
            "be stored: `reply_not_stored`, or the session was deleted meanwhile)."
        ),
    )
    @messages.mapping.post
    def send(self, request, session_id: str):
        content = validated(MessageCreateSerializer, request.data)["content"]
        key = idempotency_key(request)
        if request.accepted_renderer.format == EventStreamRenderer.format:
            message, events = services.stream_message(
                user=request.user, session_id=session_id, content=content, idempotency_key=key
            )
            return event_stream_response(message, events)
        exchange = services.send_message(
            user=request.user, session_id=session_id, content=content, idempotency_key=key
        )
        return Response(
            ExchangeSerializer(exchange).data,
            status=status.HTTP_200_OK if exchange.replayed else status.HTTP_201_CREATED,
        )


def event_stream_response(
    message, events: Generator[services.ReplyEvent, None, None]
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        server_sent_events(message, events), content_type=f"{EVENT_STREAM}; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy must pass each event on at once
    return response


def server_sent_events(
    message, events: Generator[services.ReplyEvent, None, None]
) -> Iterator[bytes]:
    try:
        yield sse("message", MessageSerializer(message).data)
        for event in events:
            if isinstance(event, services.ReplyPiece):
                yield sse("delta", {"text": event.text})
            elif isinstance(event, services.ReplyStored):
                yield sse("reply", MessageSerializer(event.reply).data)
            else:
                error = event.error
                body = error_body(error.default_code, error.message, error.details)
                yield sse("error", {**body, "retry_after_seconds": error.retry_after_seconds})
    finally:
        # A client that leaves closes this stream; closing the events too lets the
        # service finish and store the reply (rather than waiting for garbage collection).
        # Events never started would close without a trace (a client that left while
        # Gemini was still thinking): they are started first, so the reply is stored.
        if inspect.getgeneratorstate(events) == inspect.GEN_CREATED:
            next(events, None)
        events.close()


def sse(event: str, data: dict) -> bytes:
    # JSON keeps the data on one line, so a newline in the text cannot end the event.
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
