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

A message may carry an Idempotency-Key. Stored with the message (in its transaction),
the key makes a retry of a lost answer replay the stored exchange, with no second call
to the provider and no second reply counted; a retry while the first attempt is still
asking the provider is a 409 (it does not ask twice); after a failed attempt a retry
asks again for the same stored message.
"""

import logging
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from django.utils.crypto import salted_hmac
from rest_framework import status
from ulid import ULID

from ai.analysis import now_iso
from ai.chat import ChatContext, ChatFailed, ChatTurn, chat_provider
from chat import selectors, tasks
from dermalens_site.concurrency import work_slot
from dermalens_site.errors import (
    ApplicationError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    NotFound,
    ServiceUnavailable,
    spread,
)
from dynamo import request_keys
from dynamo.allowances import REPLIES, seconds_until_reset
from dynamo.chat import ChatMessage, ChatSession, SessionNotFound, chat_table
from dynamo.jobs import Job, jobs_table
from dynamo.request_keys import KeyAnswered, KeyTaken, RequestKey
from dynamo.users import QuotaUsedUp, User
from jobs.services import start_job, under_way
from telemetry import record as telemetry

logger = logging.getLogger("dermalens.chat")

SESSION_TITLE_MAX_LENGTH = 120
# A session without a title is named after the start of its first message.
AUTO_TITLE_LENGTH = 60
RETRY_AFTER_SECONDS_REPLY = 5
# The Idempotency-Keys of messages (``dynamo.request_keys``).
CHAT_KEYS = "chat"
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


class MessageKeyReused(IdempotencyKeyReused):
    default_message = (
        "This Idempotency-Key was sent with another message (another session or text); "
        "a new message needs a new key."
    )


class MessageKeyInFlight(IdempotencyKeyInFlight):
    default_message = (
        "The message sent with this Idempotency-Key is still being answered; send it again "
        "shortly to get the reply."
    )


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
    """The person's stored message and the assistant's stored reply; ``replayed`` when
    both were stored by an earlier request with the same Idempotency-Key."""

    message: ChatMessage
    reply: ChatMessage
    replayed: bool = False


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


def send_message(
    *, user: User, session_id: str, content: str, idempotency_key: str | None = None
) -> Exchange:
    """Store the message, ask the provider, store and return the reply (or, for a key
    already answered, the exchange stored then)."""
    prepared = begin_exchange(
        user=user, session_id=session_id, content=content, idempotency_key=idempotency_key
    )
    if isinstance(prepared, Exchange):
        return prepared
    message, context, history, key = prepared
    try:
        provider = chat_provider()
        with telemetry.ai_call(use="chat", provider=provider):
            text = provider.reply(context=context, history=history, message=content)
            if not text:
                raise ChatFailed("invalid_response", "an empty reply")
    except Exception as err:
        raise reply_failure(err, message, key) from err
    try:
        reply = store_reply(message, text, key)
    except Exception:
        request_keys.let_go(key)  # the reply is lost: a retry with the key asks again
        raise
    return Exchange(message=message, reply=reply)


def stream_message(
    *, user: User, session_id: str, content: str, idempotency_key: str | None = None
) -> tuple[ChatMessage, Generator[ReplyEvent, None, None]]:
    """Like ``send_message``, but the reply comes as events; it is stored when complete.

    The first piece is awaited here, so a provider that fails before it answers is a
    503 (or 422) like any other; a failure later, or in storing the reply, is a
    ``ReplyFailed`` event. A key already answered replays the stored reply as one piece.
    """
    prepared = begin_exchange(
        user=user, session_id=session_id, content=content, idempotency_key=idempotency_key
    )
    if isinstance(prepared, Exchange):
        return prepared.message, replayed_events(prepared.reply)
    message, context, history, key = prepared
    try:
        provider = chat_provider()
        # One AI call from here to the reply's last piece (``reply_events`` ends it), so
        # a reply that breaks off midway is a failed call in the metrics, not a good one.
        with telemetry.ai_call(use="chat", provider=provider, streamed=True) as call:
            pieces = iter(provider.stream_reply(context=context, history=history, message=content))
            first = next(pieces, "")
            if not first:
                raise ChatFailed("invalid_response", "an empty reply")
    except Exception as err:
        raise reply_failure(err, message, key) from err
    return message, reply_events(message, first, pieces, call, key)


def replayed_events(reply: ChatMessage) -> Generator[ReplyEvent, None, None]:
    yield ReplyPiece(reply.content)
    yield ReplyStored(reply)


def reply_events(
    message: ChatMessage,
    first: str,
    pieces: Iterator[str],
    call: telemetry.AICall,
    key: RequestKey | None = None,
) -> Generator[ReplyEvent, None, None]:
    """The reply's pieces as they come, then its stored reply or its failure; ``call``
    (the provider's, under way since before the first piece) ends with the last piece."""
    received = [first]
    try:
        yield ReplyPiece(first)
        for piece in pieces:
            received.append(piece)
            yield ReplyPiece(piece)
    except GeneratorExit:
        finish_unheard_reply(message, received, pieces, call, key)
        raise
    except Exception as err:
        call.end_failed(err)
        yield ReplyFailed(reply_failure(err, message, key))
        return
    call.end()
    # The view has returned (and given back its work slot): storing takes one again, so
    # hundreds of streams finishing at once queue for it rather than crowd the worker.
    # Its failure ends the stream with an event too: the client has read the whole text
    # and must learn that it was not kept.
    outcome: ReplyEvent
    with work_slot():
        try:
            outcome = ReplyStored(store_reply(message, "".join(received), key))
        except ChatSessionNotFound as err:
            outcome = ReplyFailed(err)  # deleted while the reply came
        except Exception:
            logger.exception("a streamed reply could not be stored")
            request_keys.let_go(key)
            outcome = ReplyFailed(ReplyNotStored(message_id=message.message_id))
    yield outcome


def finish_unheard_reply(
    message: ChatMessage,
    received: list[str],
    pieces: Iterator[str],
    call: telemetry.AICall,
    key: RequestKey | None,
) -> None:
    """The client went away mid-stream: read the reply to its end and store it anyway,
    so the conversation is whole when they come back (and a retry with the key gets it).
    A reply the provider fails to finish is given back to the day's allowance, as for a
    client still there (``reply_failure``), and is a failed AI call all the same."""
    try:
        text = "".join([*received, *pieces])
    except Exception as err:
        call.end_failed(err)
        reply_failure(err, message, key)
        logger.warning("a streamed reply failed after the client left", exc_info=True)
        return
    call.end()
    try:
        store_reply(message, text, key)
    except Exception:
        logger.warning("a streamed reply was lost after the client left", exc_info=True)
        request_keys.let_go(key)


def message_digest(session_id: str, content: str) -> str:
    """What a keyed message sent, for telling a retry from another message: a keyed
    digest, so the stored key holds nothing from which its text could be guessed."""
    return salted_hmac("dermalens.chat.message-key", f"{session_id}\0{content}").hexdigest()


class Prepared(NamedTuple):
    """A stored message, ready to be answered: what the provider is given, and the key
    the attempt holds (a keyed message)."""

    message: ChatMessage
    context: ChatContext
    history: list[ChatTurn]
    key: RequestKey | None


def begin_exchange(
    *, user: User, session_id: str, content: str, idempotency_key: str | None
) -> Exchange | Prepared:
    """The exchange a keyed message already has (a replay), or the message stored and
    ready to be answered."""
    earlier = earlier_exchange(user, session_id, content, idempotency_key)
    if isinstance(earlier, Exchange):
        return earlier
    return prepare_exchange(
        user=user,
        session_id=session_id,
        content=content,
        idempotency_key=idempotency_key,
        held=earlier,
    )


def earlier_exchange(
    user: User, session_id: str, content: str, idempotency_key: str | None
) -> Exchange | RequestKey | None:
    """For a keyed message: the exchange its key already has (a replay), or the key held
    for this attempt (the earlier one failed), or None (a key not seen yet). A key sent
    with another message is a 422; one whose first attempt is still asking, a 409."""
    if idempotency_key is None:
        return None
    chats = chat_table()
    key = request_keys.find_key(user.user_id, CHAT_KEYS, idempotency_key)
    if key is None:
        return None
    if key.request_digest != message_digest(session_id, content):
        raise MessageKeyReused()
    if key.result_id is not None:
        pair = chats.exchange_of(key)
        if pair is None:
            raise ChatSessionNotFound()  # deleted since, with its messages
        return Exchange(message=pair[0], reply=pair[1], replayed=True)
    now = int(time.time())
    until = now + request_keys.hold_seconds()
    if not request_keys.hold_key(key, now=now, until=until):
        raise MessageKeyInFlight()
    return replace(key, held_until=until)


def prepare_exchange(
    *,
    user: User,
    session_id: str,
    content: str,
    idempotency_key: str | None = None,
    held: RequestKey | None = None,
) -> Prepared | Exchange:
    """Check the session, count the reply, store the message; the provider's input.

    Three to five DynamoDB calls: one BatchGetItem for the session, the account, its
    activity counts and the active-plan pointer (and another for the plan it names with
    its recent check-ins), a Query for the recent
    messages (none for a session's first message: its item counts none), one for the
    latest analysis, and one transaction that stores the message, touches the session
    and counts the reply against the day's allowance, so a refusal (404, 429) stores
    and counts nothing.

    The same text again after a failed reply is a retry, with a key or without: the kept
    message is asked again, not stored twice. A ``held`` key's message that such a retry
    without the key has answered meanwhile gets that reply (an ``Exchange``), recorded
    on the key.
    """
    ours = held  # the key this attempt holds: let go if it fails before asking
    try:
        reads = selectors.exchange_reads(user=user, session_id=session_id)
        session, stored, plan = reads.session, reads.user, reads.plan
        if session is None:
            raise ChatSessionNotFound()
        recent = (
            selectors.recent_messages(user_id=user.user_id, session_id=session_id)
            if session.message_count
            else []
        )
        key = held
        if held is not None:
            # A keyed message whose earlier attempt failed: the stored one is asked again.
            message = next(
                (m for m in recent if m.message_id == held.subject_id), None
            ) or chat_table().get_message(user.user_id, held.subject_id or "")
            if message is None:
                raise ChatSessionNotFound()  # deleted since, with its messages
            answered = reply_after(message, recent)
            if answered is not None:
                return answered_meanwhile(held, message, answered)
            recent = [m for m in recent if m.message_id < message.message_id]
            consume_reply_quota(user.user_id)
        elif recent and recent[-1].role == "user" and recent[-1].content == content:
            # The same text again after a failed reply is a retry: the stored one is reused.
            message, recent = recent[-1], recent[:-1]
            if idempotency_key is not None:
                key = new_message_key(
                    user.user_id, session_id, content, idempotency_key, message.message_id
                )
                if not request_keys.claim_key(key, now=int(time.time())):
                    raise MessageKeyInFlight()  # a copy with the key claimed it first
                ours = key
            consume_reply_quota(user.user_id)
        else:
            message_id = str(ULID())
            if idempotency_key is not None:
                key = new_message_key(
                    user.user_id, session_id, content, idempotency_key, message_id
                )
            message = store_message(
                user_id=user.user_id,
                session_id=session_id,
                role="user",
                content=content,
                counting=REPLIES.update(user.user_id),
                message_id=message_id,
                claiming=key,
            )
    except Exception:
        request_keys.let_go(ours)
        raise
    context = selectors.context_of(stored, plan, reads.check_ins, plans_kept=reads.plans_kept)
    return Prepared(message, context, selectors.as_turns(recent), key)


def new_message_key(
    user_id: str, session_id: str, content: str, idempotency_key: str, message_id: str
) -> RequestKey:
    """A message's key as first stored, held by this attempt, naming ``message_id``."""
    return RequestKey(
        user_id=user_id,
        kind=CHAT_KEYS,
        key=idempotency_key,
        request_digest=message_digest(session_id, content),
        subject_id=message_id,
        held_until=int(time.time()) + request_keys.hold_seconds(),
        session_id=session_id,
    )


def reply_after(message: ChatMessage, recent: list[ChatMessage]) -> ChatMessage | None:
    """The assistant's reply to ``message`` among the session's recent messages, if the
    next message is one."""
    later = [m for m in recent if m.message_id > message.message_id]
    return later[0] if later and later[0].role == "assistant" else None


def answered_meanwhile(key: RequestKey, message: ChatMessage, reply: ChatMessage) -> Exchange:
    """A keyed message that a retry without its key has answered: the key records that
    reply (so it is never asked again) and replays it."""
    try:
        request_keys.answer_key(key, result_id=reply.message_id)
    except KeyAnswered:
        message, reply = answered_exchange(key)
    return Exchange(message=message, reply=reply, replayed=True)


def answered_exchange(key: RequestKey) -> tuple[ChatMessage, ChatMessage]:
    """The message and reply another attempt recorded on ``key`` (``KeyAnswered``)."""
    stored = request_keys.find_key(key.user_id, CHAT_KEYS, key.key)
    pair = chat_table().exchange_of(stored) if stored else None
    if pair is None:
        raise ChatSessionNotFound() from None  # deleted since, with its messages
    return pair


def store_message(
    *,
    user_id: str,
    session_id: str,
    role: str,
    content: str,
    counting: dict[str, Any] | None = None,
    message_id: str | None = None,
    claiming: RequestKey | None = None,
    answering: RequestKey | None = None,
) -> ChatMessage:
    message = ChatMessage(
        user_id=user_id,
        message_id=message_id or str(ULID()),
        session_id=session_id,
        role=role,
        content=content,
        created_at=now_iso(),
    )
    title = auto_title(content) if role == "user" else None
    try:
        chat_table().add_message(
            message, title=title, counting=counting, claiming=claiming, answering=answering
        )
    except SessionNotFound as err:
        raise ChatSessionNotFound() from err  # deleted while we were at it
    except QuotaUsedUp as err:
        raise reply_quota_exceeded() from err
    except KeyTaken as err:
        # Another request with the key stored its message a moment before: it is the
        # one asking the provider.
        raise MessageKeyInFlight() from err
    return message


def store_reply(message: ChatMessage, text: str, key: RequestKey | None = None) -> ChatMessage:
    """Store the reply (and, for a keyed message, record it as the key's)."""
    try:
        return store_message(
            user_id=message.user_id,
            session_id=message.session_id,
            role="assistant",
            content=text,
            answering=key,
        )
    except KeyAnswered:
        # An attempt whose hold had lapsed stored its reply first: that one is the reply.
        if key is None:
            raise
        return answered_exchange(key)[1]


def auto_title(content: str) -> str:
    words = " ".join(content.split())
    if len(words) <= AUTO_TITLE_LENGTH:
        return words
    return words[:AUTO_TITLE_LENGTH].rsplit(" ", 1)[0].rstrip(",.;:") + "..."


def reply_failure(
    err: Exception, message: ChatMessage, key: RequestKey | None = None
) -> ReplyUnavailable | MessageRefused:
    """The answer for a reply the provider did not give: 422 when it refused the message
    itself (``COUNTED_FAILURES``), 503 otherwise, with the reply's use of the day's
    allowance given back. A keyed message's key is let go: a retry asks again."""
    request_keys.let_go(key)
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
