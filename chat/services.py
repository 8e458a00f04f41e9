"""Chat use cases that write: start a session, send a message (reply whole or streamed),
delete a session.

    session = start_session(user_id=u, title=None)
    exchange = send_message(user=user, session_id=s, content="Why is my skin red?")
    question, events = stream_message(user=user, session_id=s, content="...")

Sending goes in this order: the session must exist (else 404); the person's message is
stored, the session touched and one reply counted against the daily allowance, in one
transaction (past the allowance, 429 and nothing stored); and only then is the provider
asked. A provider failure keeps the message and answers 503 with Retry-After; sending
the same text again retries it without storing it twice. A message the provider refuses
to answer (its safety filters) is kept too, and answered 422: asking again gets the same
refusal.
"""

import logging
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

from rest_framework import status
from ulid import ULID

from ai.analysis import now_iso
from ai.chat import ChatContext, ChatFailed, ChatTurn, chat_provider
from chat import selectors, tasks
from dermalens_site.concurrency import work_slot
from dermalens_site.errors import ApplicationError, NotFound, ServiceUnavailable, spread
from dynamo.allowances import REPLIES, seconds_until_reset
from dynamo.chat import ChatMessage, ChatSession, SessionNotFound, chat_table
from dynamo.jobs import Job, jobs_table
from dynamo.users import QuotaUsedUp, User
from jobs.services import start_job, under_way
from telemetry import record as telemetry

logger = logging.getLogger("dermalens.chat")

SESSION_TITLE_MAX_LENGTH = 120
# A session without a title is named after the start of its first message.
AUTO_TITLE_LENGTH = 60
RETRY_AFTER_SECONDS_REPLY = 5
RETRY_AFTER_SECONDS_RATE_LIMITED = 30


class ChatSessionNotFound(NotFound):
    default_message = "Chat session not found."


class ReplyQuotaExceeded(ApplicationError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "chat_quota_exceeded"
    default_message = "Today's assistant replies are used up; please come back tomorrow."

    def __init__(self, *, limit_per_day: int, retry_after_seconds: int):
        super().__init__(details={"limit_per_day": limit_per_day})
        self.retry_after_seconds = retry_after_seconds


# Failures that count against the day's replies all the same: the message itself made
# the provider refuse it (sending it again gets the same answer, and costs a call). Any
# other failure (the provider down, slow, rate-limited, refusing our request, answering
# nonsense) is ours or the provider's, and the reply's use is given back.
COUNTED_FAILURES = frozenset({"safety_block"})


class ReplyUnavailable(ServiceUnavailable):
    default_code = "assistant_unavailable"
    default_message = (
        "The assistant could not reply just now. Your message is saved; send it again "
        "shortly to retry."
    )

    def __init__(self, *, reason: str, message_id: str, retry_after_seconds: int | None = None):
        super().__init__(details={"reason": reason, "message_id": message_id})
        self.reason = reason
        if retry_after_seconds:
            # The provider said when it can answer again (a 429's RetryInfo).
            least = retry_after_seconds
        elif reason == "rate_limited":
            least = RETRY_AFTER_SECONDS_RATE_LIMITED
        else:
            least = RETRY_AFTER_SECONDS_REPLY
        # Every message of an outage fails at once: each is told its own time (``spread``).
        self.retry_after_seconds = spread(least)


class MessageRefused(ApplicationError):
    """The provider will not answer this message (its safety filters): the same text
    again gets the same refusal, so the answer says to rephrase, not to retry."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "message_refused"
    default_message = (
        "The assistant cannot answer this message. It is saved; please ask in other words."
    )

    def __init__(self, *, reason: str, message_id: str):
        super().__init__(details={"reason": reason, "message_id": message_id})
        self.reason = reason


class ReplyNotStored(ServiceUnavailable):
    """A streamed reply that came whole but could not be stored (the data store failed)."""

    default_code = "reply_not_stored"
    default_message = (
        "The reply could not be saved. Your message is saved; send it again shortly to retry."
    )
    retry_after_seconds = RETRY_AFTER_SECONDS_REPLY

    def __init__(self, *, message_id: str):
        super().__init__(details={"message_id": message_id})


@dataclass(frozen=True)
class Exchange:
    """The person's stored message and the assistant's stored reply."""

    message: ChatMessage
    reply: ChatMessage


# What a streamed reply yields: pieces, then the stored reply or a failure.
@dataclass(frozen=True)
class ReplyPiece:
    text: str


@dataclass(frozen=True)
class ReplyStored:
    reply: ChatMessage


@dataclass(frozen=True)
class ReplyFailed:
    """The stream's end without a stored reply: the provider failed or refused midway
    (``reply_failure``), the session was deleted meanwhile, or storing failed."""

    error: ApplicationError


ReplyEvent = ReplyPiece | ReplyStored | ReplyFailed


def start_session(*, user_id: str, title: str | None) -> ChatSession:
    timestamp = now_iso()
    session = ChatSession(
        user_id=user_id,
        session_id=str(ULID()),
        created_at=timestamp,
        last_activity_at=timestamp,
        title=title or None,
    )
    chat_table().create_session(session)
    return session


def delete_session(*, user_id: str, session_id: str) -> Job:
    """Delete the session and every message of it, as a job; returns the job.

    The session is gone for the person at once (closed to new messages, no longer listed
    or readable); the job deletes its messages, however many, then the session item. A
    repeated request answers with the job an earlier one started while that job is
    under way; after it failed, or when it has not moved for twice the queue's visibility
    timeout (its message lost), a new job starts, which finishes what the earlier left.
    """
    chats = chat_table()
    try:
        earlier_job_id = chats.close_session(user_id, session_id, at=now_iso())
    except SessionNotFound as err:
        raise ChatSessionNotFound() from err
    if earlier_job_id is not None:
        earlier = jobs_table().get(user_id, earlier_job_id)
        if earlier is not None and under_way(earlier):
            return earlier
    return start_job(
        user_id=user_id,
        kind="delete_chat_session",
        subject_id=session_id,
        task=tasks.delete_session,
        on_recorded=lambda job: chats.set_deletion_job(user_id, session_id, job.job_id),
        session_id=session_id,
    )


def send_message(*, user: User, session_id: str, content: str) -> Exchange:
    """Store the message, ask the provider, store and return the reply."""
    message, context, history = prepare_exchange(user=user, session_id=session_id, content=content)
    try:
        provider = chat_provider()
        with telemetry.ai_call(use="chat", provider=provider):
            text = provider.reply(context=context, history=history, message=content)
    except Exception as err:
        raise reply_failure(err, message) from err
    if not text:
        raise reply_failure(ChatFailed("invalid_response", "an empty reply"), message)
    return Exchange(message=message, reply=store_reply(message, text))


def stream_message(
    *, user: User, session_id: str, content: str
) -> tuple[ChatMessage, Generator[ReplyEvent, None, None]]:
    """Like ``send_message``, but the reply comes as events; it is stored when complete.

    The first piece is awaited here, so a provider that fails before it answers is a
    503 (or 422) like any other; a failure later, or in storing the reply, is a
    ``ReplyFailed`` event.
    """
    message, context, history = prepare_exchange(user=user, session_id=session_id, content=content)
    try:
        provider = chat_provider()
        # Until the first piece: what follows streams to the client, not to the provider.
        with telemetry.ai_call(use="chat", provider=provider):
            pieces = iter(provider.stream_reply(context=context, history=history, message=content))
            first = next(pieces, "")
    except Exception as err:
        raise reply_failure(err, message) from err
    if not first:
        raise reply_failure(ChatFailed("invalid_response", "an empty reply"), message)
    return message, reply_events(message, first, pieces)


def reply_events(
    message: ChatMessage, first: str, pieces: Iterator[str]
) -> Generator[ReplyEvent, None, None]:
    received = [first]
    try:
        yield ReplyPiece(first)
        for piece in pieces:
            received.append(piece)
            yield ReplyPiece(piece)
    except GeneratorExit:
        finish_unheard_reply(message, received, pieces)
        raise
    except Exception as err:
        yield ReplyFailed(reply_failure(err, message))
        return
    # The view has returned (and given back its work slot): storing takes one again, so
    # hundreds of streams finishing at once queue for it rather than crowd the worker.
    # Its failure ends the stream with an event too: the client has read the whole text
    # and must learn that it was not kept.
    outcome: ReplyEvent
    with work_slot():
        try:
            outcome = ReplyStored(store_reply(message, "".join(received)))
        except ChatSessionNotFound as err:
            outcome = ReplyFailed(err)  # deleted while the reply came
        except Exception:
            logger.exception("a streamed reply could not be stored")
            outcome = ReplyFailed(ReplyNotStored(message_id=message.message_id))
    yield outcome


def finish_unheard_reply(message: ChatMessage, received: list[str], pieces: Iterator[str]) -> None:
    """The client went away mid-stream: read the reply to its end and store it anyway,
    so the conversation is whole when they come back."""
    try:
        store_reply(message, "".join([*received, *pieces]))
    except Exception:
        logger.warning("a streamed reply was lost after the client left", exc_info=True)


def prepare_exchange(
    *, user: User, session_id: str, content: str
) -> tuple[ChatMessage, ChatContext, list[ChatTurn]]:
    """Check the session, count the reply, store the message; the provider's input.

    Three to five DynamoDB calls: one BatchGetItem for the session, the account, its
    activity counts and the active-plan pointer (and another for the plan it names with
    its recent check-ins), a Query for the recent
    messages (none for a session's first message: its item counts none), one for the
    latest analysis, and one transaction that stores the message, touches the session
    and counts the reply against the day's allowance, so a refusal (404, 429) stores
    and counts nothing.
    """
    reads = selectors.exchange_reads(user=user, session_id=session_id)
    session, stored, plan = reads.session, reads.user, reads.plan
    if session is None:
        raise ChatSessionNotFound()
    recent = (
        selectors.recent_messages(user_id=user.user_id, session_id=session_id)
        if session.message_count
        else []
    )
    if recent and recent[-1].role == "user" and recent[-1].content == content:
        # The same text again after a failed reply is a retry: the stored one is reused.
        message, recent = recent[-1], recent[:-1]
        consume_reply_quota(user.user_id)
    else:
        message = store_message(
            user_id=user.user_id,
            session_id=session_id,
            role="user",
            content=content,
            counting=REPLIES.update(user.user_id),
        )
    context = selectors.context_of(stored, plan, reads.check_ins, plans_kept=reads.plans_kept)
    return message, context, selectors.as_turns(recent)


def store_message(
    *,
    user_id: str,
    session_id: str,
    role: str,
    content: str,
    counting: dict[str, Any] | None = None,
) -> ChatMessage:
    message = ChatMessage(
        user_id=user_id,
        message_id=str(ULID()),
        session_id=session_id,
        role=role,
        content=content,
        created_at=now_iso(),
    )
    title = auto_title(content) if role == "user" else None
    try:
        chat_table().add_message(message, title=title, counting=counting)
    except SessionNotFound as err:
        raise ChatSessionNotFound() from err  # deleted while we were at it
    except QuotaUsedUp as err:
        raise reply_quota_exceeded() from err
    return message


def store_reply(message: ChatMessage, text: str) -> ChatMessage:
    return store_message(
        user_id=message.user_id, session_id=message.session_id, role="assistant", content=text
    )


def auto_title(content: str) -> str:
    words = " ".join(content.split())
    if len(words) <= AUTO_TITLE_LENGTH:
        return words
    return words[:AUTO_TITLE_LENGTH].rsplit(" ", 1)[0].rstrip(",.;:") + "..."


def reply_failure(err: Exception, message: ChatMessage) -> ReplyUnavailable | MessageRefused:
    """The answer for a reply the provider did not give: 422 when it refused the message
    itself (``COUNTED_FAILURES``), 503 otherwise, with the reply's use of the day's
    allowance given back."""
    if isinstance(err, ChatFailed) and err.reason in COUNTED_FAILURES:
        return MessageRefused(reason=err.reason, message_id=message.message_id)
    if isinstance(err, ChatFailed):
        failure = ReplyUnavailable(
            reason=err.reason,
            message_id=message.message_id,
            retry_after_seconds=err.retry_after_seconds,
        )
    else:
        # A provider bug must not lose the person's message: it is stored; this is a 503.
        logger.exception("chat reply crashed", extra={"session_id": message.session_id})
        failure = ReplyUnavailable(reason="provider_unavailable", message_id=message.message_id)
    REPLIES.give_back(message.user_id)
    return failure


def consume_reply_quota(user_id: str) -> None:
    """Count one assistant reply today (UTC); past AI_REPLIES_PER_DAY, a 429."""
    if not REPLIES.consume(user_id):
        raise reply_quota_exceeded()


def reply_quota_exceeded() -> ReplyQuotaExceeded:
    return ReplyQuotaExceeded(
        limit_per_day=REPLIES.limit, retry_after_seconds=seconds_until_reset()
    )
