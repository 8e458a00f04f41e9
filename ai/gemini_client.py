"""The google-genai client every Gemini use shares: configuration, retries, failures.

    class GeminiProvider(GeminiPlanDrafting, GeminiChat, GeminiClient): ...

Retries are one loop of ours (``_with_retries``; google-genai's own are off, so the two
never multiply): 408 and 5xx answers, timeouts and connection errors are tried again
with exponential backoff and jitter, and a 429 after the delay the server asks for
(``google.rpc.RetryInfo``'s ``retryDelay``) when it fits in
``GEMINI_RATE_LIMIT_BUDGET_SECONDS``; otherwise the call fails at once as ``rate_limited``
with the server's delay as ``retry_after_seconds``, never hammering a quota that has
said when it refills. At most ``GEMINI_MAX_ATTEMPTS`` requests in all, each given
``GEMINI_TIMEOUT_SECONDS``, and every one of them over by ``GEMINI_CALL_DEADLINE_SECONDS``
after the call began: a request waiting on Gemini is answered (a 503) before the load
balancer gives up on it (60 s), never left to its 504. Retries also spend a budget that
the client's calls share (``RetryBudget``): when most calls fail, as when Gemini sheds
load, they are not tried again, so a burst adds no second and third wave of requests.
Any other refusal (400 INVALID_ARGUMENT, 403, 404 NOT_FOUND for a retired model: not
retried), and any answer that is blocked or is not JSON, becomes ``AnalysisFailed``
with its reason code; a 400 that says the photo is not valid is ``unreadable_image``,
and one that says Gemini could not process it (and to retry) ``provider_unavailable``:
warnings, not errors for someone to fix. The provider's own error message goes to the
log, never to a client; the image, the prompt and the API key are never logged.

The API version (``GEMINI_API_VERSION``) and each use's thinking (``GEMINI_THINKING_*``)
are settings; see the README for how to choose them.
"""

import contextlib
import functools
import json
import logging
import math
import random
import re
import socket
import threading
import time
import typing
from collections.abc import Callable, Generator, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

import httpx2
import pydantic
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from google import genai
from google.genai import _common as genai_common
from google.genai import errors, types

from ai.providers import AnalysisFailed
from dermalens_site.concurrency import calling_out, http_call_hooks
from telemetry import record as telemetry

logger = logging.getLogger(__name__)

Answer = TypeVar("Answer")

# Answers tried again after a backoff (a 429: after the server's delay).
RETRY_STATUS_CODES = (408, 500, 502, 503, 504)
# An attempt with less time than this left before the call's deadline is not started.
MIN_ATTEMPT_SECONDS = 2.0
RATE_LIMITED_STATUS = 429
# The calls a rate limit turned away in the same moment are told the same delay: each
# waits up to this share of it longer (at most ADVISED_DELAY_JITTER_MAX_SECONDS), so
# they come back spread out rather than as one burst into the quota as it refills.
ADVISED_DELAY_JITTER_SHARE = 0.25
ADVISED_DELAY_JITTER_MAX_SECONDS = 2.0
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"
# A protobuf Duration in JSON: "17s", "0.5s", "1.000340012s".
DURATION = re.compile(r"^(?P<seconds>\d+(?:\.\d+)?)s$")
# The retry budget (``RetryBudget``), as gRPC's retry throttling sets it: a failed
# attempt costs a token, an answer gives a tenth of one back, and retries stop while
# half the tokens or fewer are left. Calls that fail one in a while are all retried;
# when every call fails, about five retries are made, not one per call.
RETRY_BUDGET_TOKENS = 10.0
RETRY_TOKENS_PER_ANSWER = 0.1
# What each use's GEMINI_THINKING_* setting may name (Gemini 3 models); a number is a
# token budget instead (2.5 models: 0 turns thinking off, -1 lets the model choose).
THINKING_LEVELS = ("minimal", "low", "medium", "high")
THINKING_SETTINGS = {
    "analysis": "GEMINI_THINKING_ANALYSIS",
    "plan": "GEMINI_THINKING_PLAN",
    "chat": "GEMINI_THINKING_CHAT",
}
# Enough of a provider's error message to tell one refusal from another in the log.
PROVIDER_MESSAGE_MAX_CHARS = 300
# Low: the same photo should get the same scores (models before Gemini 3; see below).
TEMPERATURE = 0.2
# Gemini 3 and later models are tuned for their default temperature (1.0): Google's
# Gemini 3 guide warns that a lower one can make them loop or reason worse, and a loop
# in structured output runs on to the output ceiling. Theirs is left as it is; earlier
# models get each use's own.
DEFAULT_TEMPERATURE_MODELS = re.compile(r"^(?:models/)?gemini-(?:[3-9]|[1-9]\d)", re.IGNORECASE)
# The most a JSON answer (an analysis, a plan) may take, thinking included: several
# times what a whole answer needs, so a model that loops stops there (an answer cut
# short is ``invalid_response``) rather than at the model's own ceiling of ~65k tokens.
JSON_MAX_OUTPUT_TOKENS = 8192
# Room for a short chat answer (and a thinking model's thoughts) with a hard ceiling.
CHAT_MAX_OUTPUT_TOKENS = 2048
# Each use's ``max_output_tokens``: its thoughts count against it, so a thinking budget
# must stay below it (``thinking_config``).
MAX_OUTPUT_TOKENS = {
    "analysis": JSON_MAX_OUTPUT_TOKENS,
    "plan": JSON_MAX_OUTPUT_TOKENS,
    "chat": CHAT_MAX_OUTPUT_TOKENS,
}
# Finish reasons that mean the answer was withheld for what the photo or message (and
# so the answer) held: asking again gets the same refusal.
BLOCKED_FINISH_REASONS = frozenset(
    {
        types.FinishReason.SAFETY,
        types.FinishReason.BLOCKLIST,
        types.FinishReason.PROHIBITED_CONTENT,
        types.FinishReason.SPII,
        types.FinishReason.IMAGE_SAFETY,
        types.FinishReason.IMAGE_PROHIBITED_CONTENT,
    }
)
# Why a prompt was blocked, when it names what the photo or message holds: asking again
# gets the same refusal. Gemini's OTHER ("blocked due to unknown reasons"), an
# unspecified reason and any this client does not know name nothing the person sent:
# such a block is no usable answer (``invalid_response``), and the use is given back.
CONTENT_BLOCK_REASONS = frozenset(
    {
        types.BlockedReason.SAFETY,
        types.BlockedReason.BLOCKLIST,
        types.BlockedReason.PROHIBITED_CONTENT,
        types.BlockedReason.IMAGE_SAFETY,
        types.BlockedReason.JAILBREAK,
    }
)
# Finish reasons that mean the answer was withheld for being too close to a published
# text or image: the model's doing, not the person's; asked again, it may well answer.
WITHHELD_FINISH_REASONS = frozenset(
    {types.FinishReason.RECITATION, types.FinishReason.IMAGE_RECITATION}
)
# Photos of bare skin are the whole point; stricter thresholds refuse ordinary scans.
SAFETY_SETTINGS = [
    types.SafetySetting(category=category, threshold=types.HarmBlockThreshold.BLOCK_ONLY_HIGH)
    for category in (
        types.HarmCategory.HARM_CATEGORY_HARASSMENT,
        types.HarmCategory.HARM_CATEGORY_HATE_SPEECH,
        types.HarmCategory.HARM_CATEGORY_SEXUALLY_EXPLICIT,
        types.HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT,
    )
]


def thinking_config(use: str) -> types.ThinkingConfig | None:
    """The thinking of ``use`` (analysis, plan, chat) from its GEMINI_THINKING_* setting.

    Thinking tokens count against ``max_output_tokens`` and the timeout, so each use
    says how much it may think; empty sends none, leaving the model's own default. A
    budget at or above the use's ``MAX_OUTPUT_TOKENS`` would leave the answer no room
    (it would end ``MAX_TOKENS`` with no text): ``ImproperlyConfigured``, as is a budget
    below -1.
    """
    setting = THINKING_SETTINGS[use]
    value = str(getattr(settings, setting)).strip().lower()
    if not value:
        return None
    if value in THINKING_LEVELS:
        return types.ThinkingConfig(thinking_level=types.ThinkingLevel(value.upper()))
    try:
        budget = int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{setting} must be a thinking level ({', '.join(THINKING_LEVELS)}) for a "
            f"Gemini 3 model, or a token budget (0 off, -1 dynamic) for a 2.5 model."
        ) from None
    most = MAX_OUTPUT_TOKENS[use]
    if not -1 <= budget < most:
        raise ImproperlyConfigured(
            f"{setting} is a thinking budget of {budget} tokens: it must be below {most}, "
            f"the most the {use} answer may take with its thoughts, to leave room for the "
            f"answer (0 turns thinking off, -1 lets the model choose)."
        )
    return types.ThinkingConfig(thinking_budget=budget)


def model_temperature(temperature: float) -> float | None:
    """The temperature to send for a use that would have ``temperature``: none (the
    model's default) for a Gemini 3 or later model (``DEFAULT_TEMPERATURE_MODELS``)."""
    if DEFAULT_TEMPERATURE_MODELS.match(settings.GEMINI_MODEL):
        return None
    return temperature


def generation_config(
    *, instruction: str, use: str, temperature: float, **options: Any
) -> types.GenerateContentConfig:
    """A request's configuration: ``instruction``, ``use``'s thinking and output ceiling
    (``MAX_OUTPUT_TOKENS``), its temperature (``model_temperature``), ``options``, the
    shared safety settings."""
    return types.GenerateContentConfig(
        system_instruction=instruction,
        safety_settings=SAFETY_SETTINGS,
        thinking_config=thinking_config(use),
        max_output_tokens=MAX_OUTPUT_TOKENS[use],
        temperature=model_temperature(temperature),
        # No tools: without this google-genai logs "AFC is enabled" on every call.
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        **options,
    )


def connection_limits() -> httpx2.Limits:
    """As many connections as calls in flight; idle ones are kept for the next calls."""
    most = settings.GEMINI_MAX_CONNECTIONS
    return httpx2.Limits(max_connections=most, max_keepalive_connections=most)


# The google-genai models a call builds, checks and reads (``build_call_models``).
CALL_MODELS = (types.GenerateContentConfig, types.Content, types.GenerateContentResponse)


@functools.cache
def build_call_models() -> int:
    """Build the pydantic models of a Gemini call now, rather than in the first calls;
    how many there are.

    google-genai declares its models with ``defer_build``: each is built the first time
    it is used. In a web worker that was the first chat reply or plan, whose call then
    took about 60 ms of CPU instead of 4-5 ms, while every other request of the worker
    waited behind it; and a worker starts again after every ``max_requests``. So the
    models of a call, and every model their fields hold, are built when the provider is
    made, at the worker's start: about 90 of google-genai's 470, 70 ms.
    """
    built: set[type] = set()

    def build(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
            if annotation in built or not annotation.__module__.startswith("google.genai"):
                return
            built.add(annotation)
            annotation.model_rebuild()  # resolves the fields' annotations too
            for field in annotation.model_fields.values():
                build(field.annotation)
            return
        for argument in typing.get_args(annotation):
            build(argument)

    for model in CALL_MODELS:
        build(model)
    return len(built)


def _holds_pair(model: pydantic.BaseModel, item: object) -> bool:
    """``item in model``, answered as pydantic answers it, without listing the fields
    when ``item`` is a name: iterating a model gives its (name, value) pairs, so a name
    is never in it."""
    if isinstance(item, str):
        return False
    return any(pair is item or pair == item for pair in model)


@functools.cache
def answer_name_lookups_directly() -> None:
    """Make google-genai's ``name in model`` cheap; the requests it builds are unchanged.

    Its converters read each field of a request with ``get_value_by_path``, which asks
    ``name in data`` before ``getattr``. For a pydantic model (the request's parameters,
    its config, their parts) ``in`` falls back to iterating the model, and pydantic
    makes a list of every (name, value) pair for each lookup, only to find no match: for
    a chat reply with ten earlier turns, some 7,000 pairs, and the call cost 5.5 ms of
    CPU in our process against 3.2 ms with this (bench/ai_calls.py). google-genai's
    models get the ``__contains__`` that pydantic's lack, with the same answers.
    """
    genai_common.BaseModel.__contains__ = _holds_pair  # type: ignore[operator]


class RetryBudget:
    """Whether a failed Gemini call may be tried again, judged by how the calls of the
    client went lately (gRPC's retry throttling).

        if budget.spend_on_failure(): ...   # retry
        budget.earn_on_answer()

    Each call's retries are bounded (``GEMINI_MAX_ATTEMPTS``), but not the calls': when
    Gemini answers 429 or 503 to everything, a burst of 200 chat messages sent 600
    requests, three waves at an overloaded service, which only delay its recovery.
    With the budget, that burst on two workers cost 208 requests (each worker's client
    retries four times before its budget is spent), and a call that fails now and then,
    among calls that are answered, is retried as before. Each client has its own (a
    process holds one for chat, one for analyses and plans).
    """

    def __init__(
        self, *, tokens: float = RETRY_BUDGET_TOKENS, per_answer: float = RETRY_TOKENS_PER_ANSWER
    ) -> None:
        self.most = tokens
        self.per_answer = per_answer
        self.tokens = tokens
        self._lock = threading.Lock()  # the jobs worker's threads share one client

    def spend_on_failure(self) -> bool:
        """Count a failed attempt; whether the budget still allows a retry."""
        with self._lock:
            self.tokens = max(0.0, self.tokens - 1)
            return self.tokens > self.most / 2

    def earn_on_answer(self) -> None:
        with self._lock:
            self.tokens = min(self.most, self.tokens + self.per_answer)


class GeminiClient:
    """One google-genai client per provider instance, configured from the GEMINI_* settings."""

    name = "gemini"

    def __init__(
        self,
        *,
        retry_initial_delay_seconds: float | None = None,
        retry_max_delay_seconds: float | None = None,
    ) -> None:
        if retry_initial_delay_seconds is None:
            retry_initial_delay_seconds = settings.GEMINI_RETRY_INITIAL_DELAY_SECONDS
        if retry_max_delay_seconds is None:
            retry_max_delay_seconds = settings.GEMINI_RETRY_MAX_DELAY_SECONDS
        if not settings.GEMINI_API_KEY:
            raise ImproperlyConfigured("GeminiProvider needs GEMINI_API_KEY.")
        if settings.GEMINI_CALL_DEADLINE_SECONDS < settings.GEMINI_TIMEOUT_SECONDS:
            raise ImproperlyConfigured(
                "GEMINI_CALL_DEADLINE_SECONDS must be at least GEMINI_TIMEOUT_SECONDS."
            )
        if not settings.GEMINI_API_VERSION:
            raise ImproperlyConfigured("GEMINI_API_VERSION must name a version, e.g. v1beta.")
        for use in THINKING_SETTINGS:
            thinking_config(use)  # a bad setting stops start-up, not the first scan
        build_call_models()
        answer_name_lookups_directly()
        self.model: str = settings.GEMINI_MODEL
        self.api_version: str = settings.GEMINI_API_VERSION
        self.max_attempts: int = settings.GEMINI_MAX_ATTEMPTS
        self.timeout_seconds: float = settings.GEMINI_TIMEOUT_SECONDS
        self.call_deadline_seconds: float = settings.GEMINI_CALL_DEADLINE_SECONDS
        self.rate_limit_budget_seconds: float = settings.GEMINI_RATE_LIMIT_BUDGET_SECONDS
        self.retry_initial_delay_seconds: float = retry_initial_delay_seconds
        self.retry_max_delay_seconds: float = retry_max_delay_seconds
        self.retry_budget = RetryBudget()
        self._client = genai.Client(
            vertexai=False,
            api_key=settings.GEMINI_API_KEY,
            http_options=types.HttpOptions(
                base_url=settings.GEMINI_BASE_URL,
                api_version=self.api_version,
                timeout=round(settings.GEMINI_TIMEOUT_SECONDS * 1000),  # milliseconds
                # A gevent worker keeps hundreds of calls in flight on this one client;
                # httpx's default pool (100 connections) would make the rest queue.
                client_args={"limits": connection_limits(), "event_hooks": event_hooks()},
                # No retry_options: google-genai does not retry; ``_with_retries`` does.
            ),
        )

    def _generate(
        self, *, use: str, contents: list[Any], config: types.GenerateContentConfig
    ) -> types.GenerateContentResponse:
        """One answer for ``use`` (analysis, plan, chat), its tokens counted."""
        # The request's work slot is free for another while the call is on the wire (the
        # client's event hooks); building it and reading the answer is its own.
        with self._failures_as_analysis_failed(), calling_out():
            response = self._with_retries(
                lambda options: self._client.models.generate_content(
                    model=self.model, contents=contents, config=with_options(config, options)
                )
            )
        count_tokens(use, response.usage_metadata)
        return response

    def _generate_stream(
        self, *, use: str, contents: list[Any], config: types.GenerateContentConfig
    ) -> Generator[types.GenerateContentResponse, None, None]:
        """The answer's events as they come (``streamGenerateContent``).

        Retries and rate limits apply until the first event: after it, a failure ends
        the stream (``AnalysisFailed``), as what came before has gone on already. The
        request's work slot is free until that first event, not only until the answer's
        headers, which a stream may send long before its first words.

        The whole stream is over by the call's deadline too: each read of an event is
        given the attempt's timeout, so a stream whose events kept coming a little
        before each timeout ran on without end, and one that fell silent ended a whole
        timeout later, past the load balancer's patience and the time a stopping worker
        gives its requests. One still coming at the deadline, or still awaited then
        (``StreamDeadline`` hangs up on it), is a ``timeout``.

        However the stream ends (its last event, a failure, the reader finding a block,
        or a reader that stops reading and closes it), its tokens so far are counted
        once and its connection is closed then.
        """
        deadline = time.monotonic() + self.call_deadline_seconds

        def first_event(
            options: types.HttpOptions | None,
        ) -> tuple[Iterator[types.GenerateContentResponse], Any]:
            events = self._client.models.generate_content_stream(
                model=self.model, contents=contents, config=with_options(config, options)
            )
            return events, next(events, None)

        responses: list[httpx2.Response] = []
        noting = _stream_responses.set(responses)
        try:
            with self._failures_as_analysis_failed(), calling_out(until_block_ends=True):
                events, event = self._with_retries(first_event)
        finally:
            _stream_responses.reset(noting)
        # The attempt that answered is the last one's response.
        hang_up = StreamDeadline(
            responses[-1] if responses else None, seconds=deadline - time.monotonic()
        )
        usage = None
        try:
            while event is not None:
                # Each event's counts are the answer's so far: the last one's the whole's.
                usage = event.usage_metadata or usage
                yield event
                if time.monotonic() >= deadline:
                    raise self._failed("timeout", "the answer was still coming at the deadline")
                with self._failures_as_analysis_failed(), hang_up.as_timeout(self._failed):
                    event = next(events, None)
        finally:
            hang_up.cancel()
            # However the stream ends (its last event, a failure, a block found by the
            # reader, or a reader that stops reading), Gemini bills what it wrote so far.
            # The connection goes at once, and Gemini stops writing; left to the garbage
            # collector, it would stay open as long as a failure's traceback holds it.
            count_tokens(use, usage)
            close = getattr(events, "close", None)
            if close is not None:
                close()

    @contextlib.contextmanager
    def _failures_as_analysis_failed(self) -> Iterator[None]:
        """What a call raises (google-genai's and httpx's errors) as ``AnalysisFailed``."""
        try:
            yield
        except errors.APIError as err:
            provider_message = str(err.message or "")[:PROVIDER_MESSAGE_MAX_CHARS]
            reason = _reason_for_status(err.code)
            if err.code == 400 and IMAGE_REFUSED.search(provider_message):
                # The photo, not our request: a user's matter, not an operator's.
                reason = "unreadable_image"
            elif err.code == 400 and IMAGE_NOT_PROCESSED.search(provider_message):
                # Gemini's own trouble with a photo we decoded and re-encoded ourselves
                # ("Please retry"): not the person's photo, nor our configuration.
                reason = "provider_unavailable"
            message = f"Gemini answered {err.code} {err.status}: {provider_message}"
            # A refusal is our request, model name or key gone wrong: someone must act.
            level = logging.ERROR if reason == "provider_rejected" else logging.WARNING
            raise self._failed(reason, message, level=level) from err
        except httpx2.TimeoutException as err:
            raise self._failed("timeout", f"no answer in time ({type(err).__name__})") from err
        except httpx2.TransportError as err:
            raise self._failed("provider_unavailable", f"{type(err).__name__}") from err
        except (errors.UnknownApiResponseError, json.JSONDecodeError) as err:
            raise self._failed("invalid_response", "the HTTP body was not JSON") from err
        except pydantic.ValidationError as err:
            # JSON, but not the shape of a generateContent answer. Field names only: the
            # values could be the model's text.
            fields = sorted({".".join(map(str, error["loc"])) for error in err.errors()})
            raise self._failed(
                "invalid_response", f"not a generateContent answer (fields: {fields[:5]})"
            ) from err

    def _with_retries(self, call: Callable[[types.HttpOptions | None], Answer]) -> Answer:
        """``call(options)``, tried again as the module's docstring says; ``options`` holds
        the attempt's timeout when it is cut to what is left before the call's deadline
        (None: the client's own).

        A 429 whose wait would pass the rate-limit budget, that comes on the last
        attempt, or when the retry budget is spent (``RetryBudget``), fails at once, with
        the server's delay as ``retry_after_seconds`` when it gave one. Any other failure
        that is not tried again is raised as it came, for
        ``_failures_as_analysis_failed`` to name.
        """
        started = time.monotonic()
        deadline = started + self.call_deadline_seconds
        rate_limit_deadline = started + self.rate_limit_budget_seconds
        for attempt in range(1, self.max_attempts + 1):
            left = deadline - time.monotonic()
            # The client's own timeout unless less is left (options cost google-genai a
            # copy of its own per request: about 0.1 ms for a chat reply, 0.5 for a plan).
            cut = None if left >= self.timeout_seconds else math.ceil(left * 1000)
            try:
                answer = call(None if cut is None else types.HttpOptions(timeout=cut))
            except errors.APIError as err:
                if err.code == RATE_LIMITED_STATUS:
                    advised = retry_delay_seconds(err)
                    wait = advised if advised is not None else self._backoff_seconds(attempt)
                    if (
                        not self.retry_budget.spend_on_failure()
                        or attempt == self.max_attempts
                        or time.monotonic() + wait > rate_limit_deadline
                        or not self._time_for_another(wait, deadline)
                    ):
                        raise self._failed(
                            "rate_limited",
                            f"Gemini answered 429 {err.status}; "
                            + (
                                "no delay advised"
                                if advised is None
                                else f"advised delay {advised}s"
                            ),
                            # Only the server's own delay is passed on as Retry-After.
                            retry_after_seconds=(
                                None if advised is None else max(1, math.ceil(advised))
                            ),
                        ) from err
                    if advised is not None:
                        wait += self._advised_delay_jitter(advised, rate_limit_deadline, deadline)
                elif err.code in RETRY_STATUS_CODES:
                    wait = self._jittered_backoff_seconds(attempt)
                    if (
                        not self.retry_budget.spend_on_failure()
                        or attempt == self.max_attempts
                        or not self._time_for_another(wait, deadline)
                    ):
                        raise
                else:
                    raise
            except (httpx2.TimeoutException, httpx2.TransportError) as err:
                wait = self._jittered_backoff_seconds(attempt)
                # An answer that took longer than a whole attempt needs a whole one again:
                # a shorter one would be cut off as well, and both would be paid for.
                needed = (
                    self.timeout_seconds
                    if isinstance(err, httpx2.ReadTimeout)
                    else MIN_ATTEMPT_SECONDS
                )
                if (
                    not self.retry_budget.spend_on_failure()
                    or attempt == self.max_attempts
                    or not self._time_for_another(wait, deadline, needed=needed)
                ):
                    raise
            else:
                self.retry_budget.earn_on_answer()
                return answer
            logger.info("Gemini %s attempt %d failed; retrying in %.1fs", self.model, attempt, wait)
            time.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _advised_delay_jitter(advised: float, rate_limit_deadline: float, deadline: float) -> float:
        """Extra seconds to wait beyond a 429's advised delay: up to a quarter of it, and
        no more than leaves the retry within the rate-limit budget and the deadline."""
        now = time.monotonic()
        room = min(
            rate_limit_deadline - now - advised, deadline - now - advised - MIN_ATTEMPT_SECONDS
        )
        most = min(advised * ADVISED_DELAY_JITTER_SHARE, ADVISED_DELAY_JITTER_MAX_SECONDS, room)
        return random.uniform(0, most) if most > 0 else 0.0  # noqa: S311 (not a secret)

    @staticmethod
    def _time_for_another(
        wait: float, deadline: float, *, needed: float = MIN_ATTEMPT_SECONDS
    ) -> bool:
        return time.monotonic() + wait + needed <= deadline

    def _jittered_backoff_seconds(self, attempt: int) -> float:
        jitter = random.uniform(0, self.retry_initial_delay_seconds)  # noqa: S311 (not a secret)
        return min(self._backoff_seconds(attempt) + jitter, self.retry_max_delay_seconds)

    def _backoff_seconds(self, attempt: int) -> float:
        factor: int = 2 ** (attempt - 1)  # int ** int is typed Any (the exponent may be < 0)
        return min(self.retry_initial_delay_seconds * factor, self.retry_max_delay_seconds)

    @staticmethod
    def _json_config(
        *,
        instruction: str,
        schema: dict[str, Any],
        use: str,
        temperature: float = TEMPERATURE,
    ) -> types.GenerateContentConfig:
        """Structured JSON output against ``schema``, with the shared safety settings."""
        return generation_config(
            instruction=instruction,
            use=use,
            temperature=temperature,
            response_mime_type="application/json",
            response_schema=schema,
        )

    def _answer_text(
        self,
        response: types.GenerateContentResponse,
        *,
        fail: Callable[[str, str], Exception] | None = None,
    ) -> str:
        """The answer's text; ``fail(reason, message)`` makes the error when it is blocked
        or empty (default: ``AnalysisFailed``)."""
        fail = fail or self._failed
        refuse_if_blocked(response, fail)
        if not response.candidates:
            raise fail("invalid_response", "no candidates in the answer")
        finish_reason = response.candidates[0].finish_reason
        text = response.text
        if not text:
            raise fail("invalid_response", f"no text in the answer ({finish_reason})")
        return text

    def _answer_from(self, response: types.GenerateContentResponse) -> Any:
        """The answer's JSON document."""
        text = self._answer_text(response)
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            # _answer_text has returned, so the answer has a candidate.
            if not response.candidates:
                raise AssertionError("unreachable: _answer_text checked the candidates") from err
            finish_reason = response.candidates[0].finish_reason
            raise self._failed(
                "invalid_response", f"the answer is not JSON ({finish_reason})"
            ) from err

    def _failed(
        self,
        reason: str,
        message: str,
        *,
        level: int = logging.WARNING,
        retry_after_seconds: int | None = None,
    ) -> AnalysisFailed:
        # The message names status codes, contract fields and the provider's own error
        # text only, never user data; it stays in the log (clients see the reason code).
        logger.log(level, "Gemini %s call failed: %s: %s", self.model, reason, message)
        return AnalysisFailed(reason, message, retry_after_seconds=retry_after_seconds)


def refuse_if_blocked(
    response: types.GenerateContentResponse, fail: Callable[[str, str], Exception]
) -> None:
    """``fail("safety_block", ...)`` when the prompt or the answer (so far) was withheld
    for what it held; ``fail("invalid_response", ...)`` when the answer was withheld as a
    recitation, or the prompt blocked for a reason that names nothing it held (no fault
    of the person's: the use is not counted)."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        if feedback.block_reason in CONTENT_BLOCK_REASONS:
            raise fail("safety_block", f"prompt blocked: {feedback.block_reason}")
        raise fail("invalid_response", f"prompt blocked, no reason given: {feedback.block_reason}")
    finish_reason = response.candidates[0].finish_reason if response.candidates else None
    if finish_reason in BLOCKED_FINISH_REASONS:
        raise fail("safety_block", f"answer blocked: {finish_reason}")
    if finish_reason in WITHHELD_FINISH_REASONS:
        raise fail("invalid_response", f"answer withheld: {finish_reason}")


# The httpx responses of the stream that ``_generate_stream`` is starting in this
# context (a greenlet's or a thread's own): its ``StreamDeadline`` needs the connection.
_stream_responses: ContextVar[list[httpx2.Response] | None] = ContextVar(
    "gemini_stream_responses", default=None
)


def event_hooks() -> dict[str, list[Callable[[Any], None]]]:
    """The httpx event hooks of the Gemini client: the work slot's, and noting a
    stream's response (``note_stream_response``)."""
    hooks = http_call_hooks()
    return {**hooks, "response": [*hooks.get("response", []), note_stream_response]}


def note_stream_response(response: httpx2.Response) -> None:
    """The response, to the stream being started in this context, if one is."""
    noted = _stream_responses.get()
    if noted is not None:
        noted.append(response)


class StreamDeadline:
    """Hangs up a streamed answer's connection at the call's deadline, so that a stream
    still waiting for its next event then ends then.

        hang_up = StreamDeadline(response, seconds=deadline - time.monotonic())
        with hang_up.as_timeout(fail):
            event = next(events)       # fails at the deadline as a ``timeout``
        hang_up.cancel()

    Each read of a stream may wait the whole attempt's timeout (30 s by default), so a
    stream that fell silent 45 s into the call's 50 would end at 75 s, past the load
    balancer's 60 and the time a stopping worker gives its requests. A timer (a greenlet
    in a gevent worker, a thread elsewhere) shuts the connection's socket down at the
    deadline: the read waiting on it fails at once, in a greenlet or a thread alike
    (closing the socket would not wake a thread blocked on it). A response that has
    ended (its connection back in the pool, or closed) is left alone.
    """

    def __init__(self, response: httpx2.Response | None, *, seconds: float) -> None:
        self.passed = False
        self._response = response
        self._lock = threading.Lock()  # the timer's thread, against the reader's
        self._timer = threading.Timer(max(0.0, seconds), self._hang_up)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        """The stream is over: its reader closes it from now on."""
        with self._lock:
            self._timer.cancel()
            self._response = None

    @contextlib.contextmanager
    def as_timeout(self, fail: Callable[[str, str], Exception]) -> Iterator[None]:
        """A read; what it raises once the deadline hung up on it, as ``fail("timeout")``."""
        try:
            yield
        except Exception as err:
            if self.passed:
                raise fail("timeout", "the answer was still awaited at the deadline") from err
            raise

    def _hang_up(self) -> None:
        with self._lock:
            if self._response is None or self._response.is_closed:
                return
            self.passed = True
            stream = self._response.extensions.get("network_stream")
            connection = stream.get_extra_info("socket") if stream is not None else None
            if connection is None:
                return
            with contextlib.suppress(OSError):  # closed meanwhile
                # The plain socket's shutdown: an SSL socket's own also drops its TLS
                # state, under the reader's feet.
                socket.socket.shutdown(connection, socket.SHUT_RDWR)


def count_tokens(use: str, usage: types.GenerateContentResponseUsageMetadata | None) -> None:
    """An answer's tokens, as Gemini reports them, in ``dermalens.ai.tokens``."""
    if usage is None:
        return
    telemetry.ai_tokens(
        use=use,
        counts={
            "input": usage.prompt_token_count,
            "output": usage.candidates_token_count,
            "thoughts": usage.thoughts_token_count,
            "cached": usage.cached_content_token_count,
        },
    )


def with_options(
    config: types.GenerateContentConfig, options: types.HttpOptions | None
) -> types.GenerateContentConfig:
    """``config`` for one attempt: ``options`` (its timeout) over the client's own."""
    return config if options is None else config.model_copy(update={"http_options": options})


def retry_delay_seconds(err: errors.APIError) -> float | None:
    """The ``retryDelay`` of the error's ``google.rpc.RetryInfo`` detail, if it has one."""
    body = err.details if isinstance(err.details, dict) else {}
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and detail.get("@type") == RETRY_INFO_TYPE:
            match = DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match["seconds"])
    return None


# What Gemini says (400 INVALID_ARGUMENT) of an image it will not read ("Provided image is
# not valid."), and of one it failed to ("Unable to process input image. Please retry or
# report in ...", reported as passing on its side).
IMAGE_REFUSED = re.compile(r"image is not valid", re.IGNORECASE)
IMAGE_NOT_PROCESSED = re.compile(r"unable to process input image", re.IGNORECASE)


def _reason_for_status(status_code: int | None) -> str:
    """The failure reason of an HTTP error answer (after google-genai's retries)."""
    if status_code == 429:
        return "rate_limited"
    if status_code in (408, 504):  # the request's timeout, or Gemini's DEADLINE_EXCEEDED
        return "timeout"
    if status_code is not None and 400 <= status_code < 500:
        return "provider_rejected"  # 400 INVALID_ARGUMENT, 401, 403, 404 NOT_FOUND, ...
    if status_code is not None and status_code >= 500:
        return "provider_unavailable"
    return "invalid_response"  # an answer that is neither a success nor an error
