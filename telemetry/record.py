"""What the code calls when something worth counting happens; nothing while telemetry is off.

    from telemetry import record
    record.http_request(route="api/v1/scans", method="GET", status=200, seconds=0.012)
    with record.ai_call(use="analysis", provider=get_provider()):
        ...

Until ``telemetry.sdk.start`` has run (only when an ``OTEL_*`` exporter is configured)
no OpenTelemetry module is imported and the metric and span parts return at once: the
cost of telemetry turned off is one ``None`` check. Names and attributes are those of
``telemetry.catalogue``. The few events the ops dashboard charts (sign-ups, stored scans,
analyses by outcome, AI latency, chat replies) also go, always, to the daily counters of
``dynamo.daily_stats``: one UpdateItem each.
"""

import contextlib
import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any

from dynamo.daily_stats import count_event, latency_counter
from telemetry import catalogue

# name -> OpenTelemetry instrument, set by telemetry.sdk.start(); None: telemetry is off.
_instruments: dict[str, Any] | None = None
_tracer: Any = None

TRACER_NAME = "dermalens"
# The uses of the AI calls begun in this context (a request's greenlet or thread) since
# ``watch_ai_calls``; None: nobody watches.
_ai_calls_begun: ContextVar[list[str] | None] = ContextVar("ai_calls_begun", default=None)
# Failure reasons of our providers and services are few and fixed; anything else
# (an unexpected exception) is counted under one value, not its class name.
OTHER_REASON = "error"


def started() -> bool:
    return _instruments is not None


def install(instruments: dict[str, Any] | None, tracer: Any = None) -> None:
    """Called by ``telemetry.sdk`` only: the instruments to use, or None to stop."""
    global _instruments, _tracer
    _instruments, _tracer = instruments, tracer


def _add(metric: catalogue.Metric, value: float, attributes: Mapping[str, Any]) -> None:
    if _instruments is not None:
        _instruments[metric.name].add(value, dict(attributes))


def _record(metric: catalogue.Metric, value: float, attributes: Mapping[str, Any]) -> None:
    if _instruments is not None:
        _instruments[metric.name].record(value, dict(attributes))


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def http_request(*, route: str, method: str, status: int, seconds: float) -> None:
    attributes = {
        "http.route": route,
        "http.request.method": method,
        "http.response.status_class": status_class(status),
    }
    _add(catalogue.HTTP_REQUESTS, 1, attributes)
    _record(catalogue.HTTP_DURATION, seconds * 1000, attributes)


def dynamodb_call(*, table: str, operation: str, read_units: float, write_units: float) -> None:
    attributes = {"aws.dynamodb.table": table, "aws.dynamodb.operation": operation}
    _add(catalogue.DYNAMODB_CALLS, 1, attributes)
    for capacity, units in (("read", read_units), ("write", write_units)):
        if units:
            _add(
                catalogue.DYNAMODB_CAPACITY,
                units,
                {**attributes, "aws.dynamodb.capacity": capacity},
            )


def dynamodb_refusal(*, table: str, operation: str, throttled: bool) -> None:
    """One attempt refused: for throughput (``throttled``) or by a DynamoDB 5xx."""
    metric = catalogue.DYNAMODB_THROTTLES if throttled else catalogue.DYNAMODB_SYSTEM_ERRORS
    _add(metric, 1, {"aws.dynamodb.table": table, "aws.dynamodb.operation": operation})


def signed_up() -> None:
    count_event(signups=1)


def scan_stored() -> None:
    count_event(scans=1)


def analysis_finished(*, status: str, failure_reason: str | None) -> None:
    count_event(**{f"analyses_{status}": 1})
    _add(
        catalogue.ANALYSES,
        1,
        {"scan.status": status, "scan.failure_reason": failure_reason or "none"},
    )


def upload_received(*, size_bytes: int, area: str) -> None:
    _record(catalogue.UPLOAD_SIZE, size_bytes, {"scan.area": area})


def queue_wait(*, seconds: float) -> None:
    _record(catalogue.QUEUE_AGE, max(0.0, seconds) * 1000, {})


def ai_tokens(*, use: str, counts: Mapping[str, int | None]) -> None:
    """The tokens one answer of the provider used, by type (``catalogue.AI_TOKENS``)."""
    for token_type, count in counts.items():
        if count:
            _add(catalogue.AI_TOKENS, count, {"ai.use": use, "ai.token_type": token_type})


class AICall:
    """One call of an AI provider, from ``ai_call`` until ``end``: its outcome (``ok``
    unless ``fail`` says otherwise), its time and its span."""

    def __init__(self, *, use: str, provider: Any) -> None:
        self.use = use
        self.outcome = "ok"
        self.reason = "none"
        self.model = str(getattr(provider, "model", "unknown"))
        self.provider_name = str(getattr(provider, "name", "unknown"))
        self._started_at = time.perf_counter()
        self._ended = False
        self._span = (
            _tracer.start_span(
                f"generate_content {self.model}",
                kind=_span_kind("CLIENT"),
                attributes={
                    "gen_ai.system": self.provider_name,
                    "gen_ai.operation.name": "generate_content",
                    "gen_ai.request.model": self.model,
                    "dermalens.ai.use": use,
                },
            )
            if _tracer is not None
            else None
        )

    def fail(self, reason: str) -> None:
        self.outcome, self.reason = "failed", reason

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        """The call's span as the current one: log lines written meanwhile carry its ids,
        and an exception that leaves the block is recorded on it."""
        if self._span is None:
            yield
            return
        from opentelemetry import trace  # only reached with tracing on

        with trace.use_span(self._span, end_on_exit=False):
            yield

    def first_piece(self) -> None:
        """A streamed answer's first piece came: its time goes to ``AI_FIRST_PIECE``."""
        _record(
            catalogue.AI_FIRST_PIECE,
            self._milliseconds(),
            {"ai.use": self.use, "ai.provider": self.provider_name},
        )

    def end_failed(self, err: BaseException) -> None:
        """End the call as failed with ``err``'s ``reason`` (our providers' ``AnalysisFailed``
        and ``ChatFailed`` carry one), else ``error``."""
        if not self._ended:
            self.fail(getattr(err, "reason", None) or OTHER_REASON)
        self.end()

    def end(self) -> None:
        """Count the call and end its span; once (a later ``end`` changes nothing)."""
        if self._ended:
            return
        self._ended = True
        milliseconds = self._milliseconds()
        if self._span is not None:
            self._span.set_attribute("dermalens.ai.outcome", self.outcome)
            if self.outcome != "ok":
                self._span.set_attribute("error.type", self.reason)
            self._span.end()
        if _instruments is not None:
            attributes = {
                "ai.use": self.use,
                "ai.provider": self.provider_name,
                "ai.outcome": self.outcome,
            }
            _add(catalogue.AI_CALLS, 1, {**attributes, "ai.reason": self.reason})
            _record(catalogue.AI_DURATION, milliseconds, attributes)
        replied = self.use == "chat" and self.outcome == "ok"
        count_event(
            **{latency_counter(milliseconds): 1, **({"chat_replies": 1} if replied else {})}
        )

    def _milliseconds(self) -> float:
        return (time.perf_counter() - self._started_at) * 1000


@contextlib.contextmanager
def ai_call(*, use: str, provider: Any, streamed: bool = False) -> Iterator[AICall]:
    """Time a call of ``provider`` (its ``name`` and ``model``) for ``use`` and count its
    outcome; a span when tracing is on.

    An exception that leaves the block is a failure with its ``reason`` attribute (our
    providers' ``AnalysisFailed`` and ``ChatFailed`` carry one), else ``error``. The
    span follows the GenAI semantic conventions: google-genai 3.x sends through httpx2,
    which OpenTelemetry's httpx instrumentation does not patch, so this is the Gemini
    call's span.

    ``streamed``: the block is the wait for the answer's first piece, whose time goes to
    ``AI_FIRST_PIECE``; the call goes on after the block, until its last piece, when the
    caller ends it (``AICall.end``, or ``end_failed`` for a stream that broke off), so
    a failure midway is a failed call and its time is the whole answer's.
    """
    begun = _ai_calls_begun.get()
    if begun is not None:
        begun.append(use)
    call = AICall(use=use, provider=provider)
    try:
        with call.current():
            yield call
    except BaseException as err:
        call.end_failed(err)
        raise
    if streamed:
        call.first_piece()
    else:
        call.end()


def watch_ai_calls() -> list[str]:
    """Note the AI calls begun from now on in this context (``ai_call``): the list of
    their uses, empty while none has begun. A limit on AI work reads it to tell a request
    answered before any AI work from one answered after it
    (``accounts.throttles.UnverifiedAIThrottle``)."""
    begun: list[str] = []
    _ai_calls_begun.set(begun)
    return begun


def _span_kind(name: str) -> Any:
    from opentelemetry.trace import SpanKind  # only reached with tracing on

    return SpanKind[name]


# --- trace context across the analysis queue ----------------------------------------


def inject_trace_context(carrier: MutableMapping[str, str]) -> None:
    """Put the current trace context (W3C ``traceparent``) into ``carrier``."""
    if _tracer is None:
        return
    from opentelemetry import propagate

    propagate.inject(carrier)


@contextlib.contextmanager
def consumer_span(name: str, carrier: Mapping[str, str], **attributes: Any) -> Iterator[None]:
    """A new trace for work taken from a queue, linked to the trace that queued it.

    A link, not a parent: the request that queued the job ended long ago, and a worker
    may take the message several times (each receive is its own trace).
    """
    if _tracer is None:
        yield
        return
    from opentelemetry import propagate, trace

    producer = trace.get_current_span(propagate.extract(carrier)).get_span_context()
    links = [trace.Link(producer)] if producer.is_valid else []
    with _tracer.start_as_current_span(
        name,
        context=trace.set_span_in_context(trace.INVALID_SPAN),
        kind=_span_kind("CONSUMER"),
        links=links,
        attributes=attributes,
    ):
        yield
