"""The google-genai client every Gemini use shares: configuration, retries, failures.

    class GeminiProvider(GeminiPlanDrafting, GeminiChat, GeminiClient): ...

Retries are google-genai's own (``HttpRetryOptions``, tenacity underneath): 408, 429 and
5xx answers, timeouts and connection errors are tried again with exponential backoff and
jitter, at most ``GEMINI_MAX_ATTEMPTS`` attempts in all. What still fails, and any answer
that is blocked or is not JSON, becomes ``AnalysisFailed`` with its reason code. The
image, the prompt and the API key are never logged.
"""

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx2
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from google import genai
from google.genai import errors, types

from ai.providers import AnalysisFailed

logger = logging.getLogger(__name__)

RETRY_STATUS_CODES = (408, 429, 500, 502, 503, 504)
# Low: the same photo should get the same scores.
TEMPERATURE = 0.2
# Finish reasons that mean the answer was withheld, not cut short or malformed.
BLOCKED_FINISH_REASONS = frozenset(
    {
        types.FinishReason.SAFETY,
        types.FinishReason.BLOCKLIST,
        types.FinishReason.PROHIBITED_CONTENT,
        types.FinishReason.SPII,
        types.FinishReason.RECITATION,
        types.FinishReason.IMAGE_SAFETY,
        types.FinishReason.IMAGE_PROHIBITED_CONTENT,
        types.FinishReason.IMAGE_RECITATION,
    }
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


def generation_config(*, instruction: str, **options: Any) -> types.GenerateContentConfig:
    """A request's configuration: ``instruction``, ``options``, the shared safety settings."""
    return types.GenerateContentConfig(
        system_instruction=instruction,
        safety_settings=SAFETY_SETTINGS,
        # No tools: without this google-genai logs "AFC is enabled" on every call.
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        **options,
    )


def connection_limits() -> httpx2.Limits:
    """As many connections as calls in flight; idle ones are kept for the next calls."""
    most = settings.GEMINI_MAX_CONNECTIONS
    return httpx2.Limits(max_connections=most, max_keepalive_connections=most)


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
        if settings.GEMINI_MAX_ATTEMPTS < 1:
            raise ImproperlyConfigured("GEMINI_MAX_ATTEMPTS must be 1 or more.")
        if settings.GEMINI_TIMEOUT_SECONDS <= 0:
            raise ImproperlyConfigured("GEMINI_TIMEOUT_SECONDS must be more than 0.")
        self.model: str = settings.GEMINI_MODEL
        self.max_attempts: int = settings.GEMINI_MAX_ATTEMPTS
        self._client = genai.Client(
            vertexai=False,
            api_key=settings.GEMINI_API_KEY,
            http_options=types.HttpOptions(
                base_url=settings.GEMINI_BASE_URL,
                timeout=round(settings.GEMINI_TIMEOUT_SECONDS * 1000),  # milliseconds
                # A gevent worker keeps hundreds of calls in flight on this one client;
                # httpx's default pool (100 connections) would make the rest queue.
                client_args={"limits": connection_limits()},
                retry_options=types.HttpRetryOptions(
                    attempts=self.max_attempts,
                    initial_delay=retry_initial_delay_seconds,
                    max_delay=retry_max_delay_seconds,
                    exp_base=2,
                    jitter=retry_initial_delay_seconds,
                    http_status_codes=list(RETRY_STATUS_CODES),
                ),
            ),
        )

    def _generate(
        self, *, contents: list[Any], config: types.GenerateContentConfig
    ) -> types.GenerateContentResponse:
        try:
            return self._client.models.generate_content(
                model=self.model, contents=contents, config=config
            )
        except errors.APIError as err:
            reason = _reason_for_status(err.code)
            if reason is None:
                raise  # 400, 401, 403, 404: our request or our key is wrong; not a scan failure
            raise self._failed(reason, f"Gemini answered {err.code} {err.status}") from err
        except httpx2.TimeoutException as err:
            raise self._failed("timeout", f"no answer in time ({type(err).__name__})") from err
        except httpx2.TransportError as err:
            raise self._failed("provider_unavailable", f"{type(err).__name__}") from err
        except errors.UnknownApiResponseError as err:
            raise self._failed("invalid_response", "the HTTP body was not JSON") from err

    @staticmethod
    def _json_config(
        *, instruction: str, schema: dict[str, Any], temperature: float = TEMPERATURE
    ) -> types.GenerateContentConfig:
        """Structured JSON output against ``schema``, with the shared safety settings."""
        return generation_config(
            instruction=instruction,
            response_mime_type="application/json",
            response_schema=schema,
            temperature=temperature,
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
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            raise fail("safety_block", f"prompt blocked: {feedback.block_reason}")
        if not response.candidates:
            raise fail("invalid_response", "no candidates in the answer")
        finish_reason = response.candidates[0].finish_reason
        if finish_reason in BLOCKED_FINISH_REASONS:
            raise fail("safety_block", f"answer blocked: {finish_reason}")
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
            finish_reason = response.candidates[0].finish_reason
            raise self._failed(
                "invalid_response", f"the answer is not JSON ({finish_reason})"
            ) from err

    def _failed(self, reason: str, message: str) -> AnalysisFailed:
        # The message names status codes and contract fields only, never user data.
        logger.warning("Gemini %s analysis failed: %s: %s", self.model, reason, message)
        return AnalysisFailed(reason, message)


def _reason_for_status(status_code: int) -> str | None:
    if status_code == 429:
        return "rate_limited"
    if status_code == 408:
        return "timeout"
    if status_code >= 500:
        return "provider_unavailable"
    return None
