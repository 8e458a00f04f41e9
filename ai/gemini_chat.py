"""Chat replies by Google Gemini: multi-turn, grounded in the person's own data, plain text.

    class GeminiProvider(GeminiChat, ...):   # the mixin uses the provider's client
        ...
    text = provider.reply(context=context, history=turns, message="Why is my skin red?")

The conversation goes as Gemini ``contents``: the first user turn carries the person's
data (``ai.chat_prompts.grounding_text``), then the session's recent turns (the person's
as delimited JSON, the assistant's as ``model`` turns), then the new message. The system
instruction is the fixed ``CHAT_INSTRUCTION``. Timeout and retries are the provider's
(``GEMINI_TIMEOUT_SECONDS``, ``GEMINI_MAX_ATTEMPTS``); whatever still fails, or comes
back blocked or empty, is ``ChatFailed`` with its reason. An answer Gemini cut short (its
output ceiling, ``MAX_TOKENS``, or an unnamed reason, ``OTHER``) is shown and stored
with the cut mark that ends a reply cut at REPLY_MAX_LENGTH, never as if complete.
``stream_reply`` reads ``streamGenerateContent`` and hands the text on as it comes,
without its Markdown.
"""

import logging
from collections.abc import Callable, Generator, Iterator, Sequence

from google.genai import types

from ai.chat import (
    CUT_MARK,
    ChatContext,
    ChatFailed,
    ChatTurn,
    as_plain_text,
    plain_text_pieces,
)
from ai.chat_prompts import CHAT_INSTRUCTION, grounding_text, user_message_text
from ai.gemini_client import generation_config, refuse_if_blocked
from ai.providers import AnalysisFailed

logger = logging.getLogger(__name__)

# A little livelier than analysis, still steady.
CHAT_TEMPERATURE = 0.5
# An answer that ends for one of these stopped short of what the model meant to say (the
# output ceiling, or a reason Gemini does not name): it is shown, marked as cut.
CUT_SHORT_FINISH_REASONS = frozenset({types.FinishReason.MAX_TOKENS, types.FinishReason.OTHER})


def chat_config() -> types.GenerateContentConfig:
    return generation_config(
        instruction=CHAT_INSTRUCTION,
        use="chat",
        response_mime_type="text/plain",
        temperature=CHAT_TEMPERATURE,
    )


def chat_contents(
    context: ChatContext, history: Sequence[ChatTurn], message: str
) -> list[types.ContentDict]:
    """Alternating user/model turns; consecutive turns of one role share one content.

    Plain dicts (google-genai's ``ContentDict``), not ``types.Content`` models: the SDK
    takes both, and with dicts its call costs about a third less CPU (6 ms against 9 ms
    for ten turns of history), which is what a burst of chat messages is bound by.
    """
    turns = [("user", grounding_text(context))]
    for turn in history:
        if turn.role == "user":
            turns.append(("user", user_message_text(turn.content)))
        else:
            turns.append(("model", turn.content))
    turns.append(("user", user_message_text(message)))
    contents: list[types.ContentDict] = []
    parts: list[types.PartDict] = []
    for role, text in turns:
        if not contents or contents[-1]["role"] != role:
            parts = []
            contents.append({"role": role, "parts": parts})
        parts.append({"text": text})
    return contents


class GeminiChat:
    """Chat for ``GeminiProvider``: a mixin that uses its ``_generate`` (client, retries)."""

    # Supplied by GeminiProvider (annotations only, so its own methods stay in charge).
    model: str
    _generate: Callable[..., types.GenerateContentResponse]
    _generate_stream: Callable[..., Generator[types.GenerateContentResponse, None, None]]
    _answer_text: Callable[..., str]

    def reply(self, *, context: ChatContext, history: Sequence[ChatTurn], message: str) -> str:
        try:
            response = self._generate(
                use="chat", contents=chat_contents(context, history, message), config=chat_config()
            )
        except AnalysisFailed as failure:
            raise as_chat_failure(failure) from failure
        return self._reply_text(response)

    def stream_reply(
        self, *, context: ChatContext, history: Sequence[ChatTurn], message: str
    ) -> Iterator[str]:
        """The reply as Gemini writes it (``streamGenerateContent``), as plain text.

        The first piece comes with the model's first words, not after its last; a
        failure before it (retried as ``reply``'s are) is the caller's 503, one after it
        ends the stream with ``ChatFailed``, as does an answer blocked midway.
        """
        finish_reasons: list[types.FinishReason | None] = []

        def text_of(event: types.GenerateContentResponse) -> str:
            """One event's text; an event may carry none (the last: token counts)."""
            refuse_if_blocked(event, self._chat_failed)
            finish_reasons.append(finish_reason_of(event))
            return event.text or ""

        events = self._generate_stream(
            use="chat", contents=chat_contents(context, history, message), config=chat_config()
        )
        try:
            last = ""
            for piece in plain_text_pieces(text_of(event) for event in events):
                last = piece
                yield piece
        except AnalysisFailed as failure:
            raise as_chat_failure(failure) from failure
        finally:
            # Ended here (a block, or a reader gone): the stream's connection goes and its
            # tokens are counted now, not when the garbage collector finds it.
            events.close()
        if not last:
            raise self._chat_failed("invalid_response", "no text in the answer, or markup only")
        cut_short = any(reason in CUT_SHORT_FINISH_REASONS for reason in finish_reasons)
        if cut_short and not last.endswith(CUT_MARK):
            logger.info("Gemini %s chat reply cut short: %s", self.model, finish_reasons[-1])
            yield CUT_MARK

    def _reply_text(self, response: types.GenerateContentResponse) -> str:
        text = as_plain_text(self._answer_text(response, fail=self._chat_failed))
        if not text:
            raise self._chat_failed("invalid_response", "the answer was markup only")
        finish_reason = finish_reason_of(response)
        if finish_reason in CUT_SHORT_FINISH_REASONS and not text.endswith(CUT_MARK):
            logger.info("Gemini %s chat reply cut short: %s", self.model, finish_reason)
            return text + CUT_MARK
        return text

    def _chat_failed(
        self, reason: str, message: str, *, retry_after_seconds: int | None = None
    ) -> ChatFailed:
        # The message names status codes and reasons only, never what the person wrote.
        logger.warning("Gemini %s chat reply failed: %s: %s", self.model, reason, message)
        return ChatFailed(reason, message, retry_after_seconds=retry_after_seconds)


def as_chat_failure(failure: AnalysisFailed) -> ChatFailed:
    """A failure of the Gemini client's call, as the chat's, not logged again: the
    client logged it (one line per failed reply)."""
    return ChatFailed(
        failure.reason, failure.message, retry_after_seconds=failure.retry_after_seconds
    )


def finish_reason_of(response: types.GenerateContentResponse) -> types.FinishReason | None:
    return response.candidates[0].finish_reason if response.candidates else None
