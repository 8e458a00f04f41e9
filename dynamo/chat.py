"""The chat-messages table: every session and every message, in the user's partition.

    chat = chat_table()
    chat.create_session(session)
    chat.add_message(message, title="Dry patches")     # the message and the session's touch
    session, page = chat.session_messages(user_id, session_id, limit=50)
    chat.delete_session(user_id, session_id)

Two item kinds share the partition, told apart by the sort key ``message_id``:

- a message: its ULID (digits and capitals, so messages sort by time), with
  ``session_message_id`` = "<session_id>#<message_id>" for the ``session-index`` LSI;
- a session: "session#<session ULID>" (the lower-case prefix sorts after every ULID),
  with title, created_at, last_activity_at, message_count and version, and
  ``session_message_id`` = "<session_id>#".

So the session list is one Query with ``begins_with(message_id, "session#")``, and one
Query on the LSI with ``begins_with(session_message_id, "<session_id>#")`` returns the
session item first (it is a prefix of every message's key) and then its messages in
time order: one round trip both proves the session exists and reads its first page.
"""

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dynamo import request_keys
from dynamo.base import Page, Table, get_many
from dynamo.codec import Item, to_item
from dynamo.errors import AccountClosed, ConditionFailed, DynamoError, ItemNotFound
from dynamo.request_keys import KeyAnswered, KeyTaken, RequestKey, answer_action, claim_action
from dynamo.tables import CHAT
from dynamo.users import QuotaUsedUp, account_open_check, activity_update, users_table

SESSION_PREFIX = "session#"
SESSION_INDEX = "session-index"
# On a session being deleted: the job deleting it (a repeated DELETE answers with it).
DELETION_JOB = "deletion_job_id"
# Keys read per page while deleting a session (keys only, so a page stays small).
DELETE_PAGE_SIZE = 200


class SessionNotFound(ItemNotFound):
    default_message = "Chat session not found."


@dataclass(frozen=True, slots=True)
class ChatMessage:
    user_id: str
    message_id: str
    session_id: str
    role: str  # user | assistant
    content: str
    created_at: str


@dataclass(frozen=True, slots=True)
class ChatSession:
    user_id: str
    session_id: str
    created_at: str
    last_activity_at: str
    title: str | None = None  # None until given, or taken from the first message
    message_count: int = 0
    version: int = 1
    # Set when its deletion was asked for: from then on it is gone for the person (not
    # listed, not readable, closed to new messages) while a job deletes its messages.
    deleting_since: str | None = None


def session_key(session_id: str) -> str:
    return f"{SESSION_PREFIX}{session_id}"


def message_from_item(item: Item) -> ChatMessage:
    return ChatMessage(
        user_id=item["user_id"]["S"],
        message_id=item["message_id"]["S"],
        session_id=item["session_id"]["S"],
        role=item["role"]["S"],
        content=item["content"]["S"],
        created_at=item["created_at"]["S"],
    )


def message_to_item(message: ChatMessage) -> Item:
    return to_item(
        {
            "user_id": message.user_id,
            "message_id": message.message_id,
            "session_id": message.session_id,
            "session_message_id": f"{message.session_id}#{message.message_id}",
            "role": message.role,
            "content": message.content,
            "created_at": message.created_at,
        }
    )


def open_session(item: Item | None) -> ChatSession | None:
    """The session stored as ``item``; None when there is none or it is being deleted."""
    session = session_from_item(item) if item else None
    return session if session and session.deleting_since is None else None


def session_from_item(item: Item) -> ChatSession:
    title = item.get("title")
    deleting = item.get("deleting_since")
    return ChatSession(
        user_id=item["user_id"]["S"],
        session_id=item["session_id"]["S"],
        created_at=item["created_at"]["S"],
        last_activity_at=item["last_activity_at"]["S"],
        title=title["S"] if title else None,
        message_count=int(item["message_count"]["N"]),
        version=int(item["version"]["N"]),
        deleting_since=deleting["S"] if deleting else None,
    )


def session_to_item(session: ChatSession) -> Item:
    return to_item(
        {
            "user_id": session.user_id,
            "message_id": session_key(session.session_id),
            "item_type": "session",
            "session_id": session.session_id,
            # A prefix of every message's index key: the session leads its own messages.
            "session_message_id": f"{session.session_id}#",
            "title": session.title,
            "created_at": session.created_at,
            "last_activity_at": session.last_activity_at,
            "message_count": session.message_count,
            "version": session.version,
        }
    )


def is_session_item(item: Item) -> bool:
    message_id: str = item["message_id"]["S"]
    return message_id.startswith(SESSION_PREFIX)


def entry_from_item(item: Item) -> ChatMessage | ChatSession:
    return session_from_item(item) if is_session_item(item) else message_from_item(item)


class ChatTable(Table):
    definition = CHAT

    def key(self, user_id: str, message_id: str) -> Item:
        return {"user_id": {"S": user_id}, "message_id": {"S": message_id}}

    # --- sessions ---------------------------------------------------------------------

    def create_session(self, session: ChatSession) -> None:
        """Store a new session while its account is open (else ``AccountClosed``)."""
        counted = activity_update(session.user_id, counts={"chat_sessions": 1})
        put = {
            "TableName": self.name,
            "Item": session_to_item(session),
            "ConditionExpression": "attribute_not_exists(message_id)",
        }
        self.transact_write(
            [account_open_check(session.user_id), {"Update": counted}, {"Put": put}],
            refused=ConditionFailed,
            refused_at={0: AccountClosed},
        )

    def get_session(
        self, user_id: str, session_id: str, *, consistent: bool = False
    ) -> ChatSession | None:
        """The session; None when it is not there or being deleted."""
        item = self.get_item(self.session_item_key(user_id, session_id), consistent=consistent)
        return open_session(item)

    def session_item_key(self, user_id: str, session_id: str) -> Item:
        return self.key(user_id, session_key(session_id))

    def sessions_page(
        self, user_id: str, *, limit: int, cursor: str | None = None
    ) -> Page[ChatSession]:
        """The user's sessions, newest first (by when they were started): one Query.

        Sessions being deleted are left out, so a page may hold fewer than ``limit``.
        """
        page = self.query_partition(
            user_id,
            parse=session_from_item,
            limit=limit,
            cursor=cursor,
            scope="chat-sessions",
            key_condition="user_id = :user_id AND begins_with(message_id, :prefix)",
            values={":prefix": SESSION_PREFIX},
        )
        return Page([s for s in page.items if s.deleting_since is None], page.next_cursor)

    def close_session(self, user_id: str, session_id: str, *, at: str) -> str | None:
        """Mark the session as being deleted: gone for the person from this write on.

        Returns the id of the deletion job recorded on it by an earlier DELETE
        (``set_deletion_job``), if any. ``SessionNotFound`` when there is no such session
        (or its deletion finished). Marking it again (a repeated DELETE) is allowed.
        """
        try:
            response = self.call(
                "update_item",
                Key=self.key(user_id, session_key(session_id)),
                UpdateExpression="SET deleting_since = if_not_exists(deleting_since, :at)",
                ConditionExpression="attribute_exists(message_id)",
                ExpressionAttributeValues={":at": {"S": at}},
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed as err:
            raise SessionNotFound(cause=err.cause) from err
        job = response["Attributes"].get(DELETION_JOB)
        return job["S"] if job else None

    def set_deletion_job(self, user_id: str, session_id: str, job_id: str) -> None:
        """Record the job deleting the session on it, while it is there: a job that has
        already finished must not bring the session item back."""
        with contextlib.suppress(ConditionFailed):
            self.call(
                "update_item",
                Key=self.key(user_id, session_key(session_id)),
                UpdateExpression="SET #job = :job",
                ConditionExpression="attribute_exists(message_id)",
                ExpressionAttributeNames={"#job": DELETION_JOB},
                ExpressionAttributeValues={":job": {"S": job_id}},
            )

    def delete_session(
        self,
        user_id: str,
        session_id: str,
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        """Delete a session's messages (batches of 25) and their Idempotency-Keys, then
        the session item.

        The session item goes last, so a failure part-way leaves a session that a second
        call finishes deleting. A sweep after it catches a message written meanwhile (no
        message can be added once the session item is gone). ``SessionNotFound`` when
        neither the session nor any of its messages is there.
        """
        found = self._delete_session_messages(user_id, session_id, on_progress)
        # Before the session item, so a failure here is finished by a second call too.
        request_keys.delete_session_keys(user_id, session_id)
        response = self.call(
            "delete_item", Key=self.key(user_id, session_key(session_id)), ReturnValues="ALL_OLD"
        )
        if "Attributes" in response:
            users_table().count_activity(user_id, counts={"chat_sessions": -1})
        found = self._delete_session_messages(user_id, session_id, on_progress) or found
        if not found and "Attributes" not in response:
            raise SessionNotFound()

    def _delete_session_messages(
        self, user_id: str, session_id: str, on_progress: Callable[[int], None] | None
    ) -> bool:
        """Delete the session's messages page by page, and count them off the account's
        activity as they go; True if the session had any entry."""
        found = False
        for message_ids in self._session_key_pages(user_id, session_id):
            found = True
            messages = [m for m in message_ids if not m.startswith(SESSION_PREFIX)]
            if messages:
                self.delete_messages(user_id, messages)
                users_table().count_activity(user_id, counts={"chat_messages": -len(messages)})
                if on_progress is not None:
                    on_progress(len(messages))
        return found

    def _session_key_pages(self, user_id: str, session_id: str) -> Iterator[list[str]]:
        request: dict[str, Any] = {
            "IndexName": SESSION_INDEX,
            "KeyConditionExpression": "user_id = :user_id AND "
            "begins_with(session_message_id, :session)",
            "ExpressionAttributeValues": {
                ":user_id": {"S": user_id},
                ":session": {"S": f"{session_id}#"},
            },
            "ProjectionExpression": "message_id",
            "Limit": DELETE_PAGE_SIZE,
        }
        while True:
            response = self.call("query", **request)
            if response["Items"]:
                yield [item["message_id"]["S"] for item in response["Items"]]
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key

    # --- messages ---------------------------------------------------------------------

    def put(self, message: ChatMessage) -> None:
        self.call(
            "put_item",
            Item=message_to_item(message),
            ConditionExpression="attribute_not_exists(message_id)",
        )

    def add_message(
        self,
        message: ChatMessage,
        *,
        title: str | None = None,
        counting: dict[str, Any] | None = None,
        claiming: RequestKey | None = None,
        answering: RequestKey | None = None,
    ) -> None:
        """Store a message and touch its session, in one transaction.

        The session's last activity, message count and version move with the message;
        ``title`` names the session only if it has no title yet. ``SessionNotFound`` if
        the session is not there (never started, or deleted meanwhile): no message is
        ever stored outside a session. ``counting`` (a ``daily_quota_update``) counts a
        use of an allowance in the same transaction: past it, ``QuotaUsedUp`` and
        nothing is stored; with the session gone too, ``SessionNotFound``.

        ``claiming`` stores a new Idempotency-Key with the person's message (``KeyTaken``
        if another request holds it: nothing is stored); ``answering`` records this
        reply as its key's (``KeyAnswered`` if one was recorded first: nothing stored).
        """
        names = {"#version": "version"}
        values: dict[str, Any] = {":at": {"S": message.created_at}, ":one": {"N": "1"}}
        sets = ["last_activity_at = :at"]
        if title:
            sets.append("title = if_not_exists(title, :title)")
            values[":title"] = {"S": title}
        touch = {
            "TableName": self.name,
            "Key": self.key(message.user_id, session_key(message.session_id)),
            "UpdateExpression": "SET " + ", ".join(sets) + " ADD message_count :one, #version :one",
            "ConditionExpression": "attribute_exists(message_id) AND "
            "attribute_not_exists(deleting_since)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        put = {
            "TableName": self.name,
            "Item": message_to_item(message),
            "ConditionExpression": "attribute_not_exists(message_id)",
        }
        counted = activity_update(
            message.user_id,
            counts={"chat_messages": 1},
            latest={"last_message_at": message.created_at},
        )
        # The put's condition holds for a fresh ULID: a refusal is the session's, or
        # the account's (closed for an erasure).
        actions: list[dict[str, Any]] = [
            {"Update": touch},
            {"Put": put},
            account_open_check(message.user_id),
            {"Update": counted},
        ]
        refused_at: dict[int, type[DynamoError]] = {2: AccountClosed}
        if counting:
            refused_at[len(actions)] = QuotaUsedUp
            actions.append({"Update": counting})
        if claiming:
            refused_at[len(actions)] = KeyTaken
            actions.append({"Put": claim_action(claiming, now=int(time.time()))})
        if answering:
            refused_at[len(actions)] = KeyAnswered
            actions.append({"Update": answer_action(answering, result_id=message.message_id)})
        self.transact_write(actions, refused=SessionNotFound, refused_at=refused_at)

    # --- Idempotency-Keys of messages (``dynamo.request_keys``) ---------------------

    def exchange_of(self, claim: RequestKey) -> tuple[ChatMessage, ChatMessage] | None:
        """The key's message and its stored reply (one BatchGetItem); None when either
        is gone (the session was deleted)."""
        if claim.subject_id is None or claim.result_id is None:
            return None
        message, reply = get_many(
            [
                (self, self.key(claim.user_id, claim.subject_id)),
                (self, self.key(claim.user_id, claim.result_id)),
            ],
            consistent=True,
        )
        if message is None or reply is None:
            return None
        return message_from_item(message), message_from_item(reply)

    def get_message(self, user_id: str, message_id: str) -> ChatMessage | None:
        item = self.get_item(self.key(user_id, message_id), consistent=True)
        return message_from_item(item) if item and not is_session_item(item) else None

    def session_messages(
        self,
        user_id: str,
        session_id: str,
        *,
        limit: int,
        cursor: str | None = None,
        newest_first: bool = False,
    ) -> tuple[ChatSession | None, Page[ChatMessage]]:
        """A page of a session's messages, from one Query on the LSI.

        On the first page (no cursor) the session is returned too; None there means the
        session is not in this partition, or is being deleted. Later pages return None
        for the session: their cursor is bound to this user and this session's list.
        """
        first_page = cursor is None
        if newest_first:
            return self._session_messages_newest_first(
                user_id, session_id, limit=limit, cursor=cursor
            )
        page = self._session_query(
            user_id, session_id, limit=limit + int(first_page), cursor=cursor, newest_first=False
        )
        entries = page.items
        session = None
        if first_page and entries and isinstance(entries[0], ChatSession):
            session, entries = entries[0], entries[1:]
            if session.deleting_since is not None:
                return None, Page([], None)
        messages = [e for e in entries if isinstance(e, ChatMessage)]
        return session, Page(messages, page.next_cursor)

    def _session_messages_newest_first(
        self, user_id: str, session_id: str, *, limit: int, cursor: str | None
    ) -> tuple[ChatSession | None, Page[ChatMessage]]:
        # The session item sorts first in the index, so it comes last in this order:
        # the first page reads it by its key instead (one GetItem more).
        session = None
        if cursor is None:
            session = self.get_session(user_id, session_id)
            if session is None:
                return None, Page([], None)
        page = self._session_query(
            user_id, session_id, limit=limit, cursor=cursor, newest_first=True
        )
        messages = [e for e in page.items if isinstance(e, ChatMessage)]
        # Reaching the session item is reaching the oldest message: no page after it.
        reached_start = len(messages) < len(page.items)
        return session, Page(messages, None if reached_start else page.next_cursor)

    def query_session(
        self,
        user_id: str,
        session_id: str,
        *,
        limit: int,
        cursor: str | None = None,
        newest_first: bool = False,
    ) -> Page[ChatMessage]:
        """A page of a session's messages (the session item is left out)."""
        page = self._session_query(
            user_id, session_id, limit=limit, cursor=cursor, newest_first=newest_first
        )
        return Page([e for e in page.items if isinstance(e, ChatMessage)], page.next_cursor)

    def _session_query(
        self, user_id: str, session_id: str, *, limit: int, cursor: str | None, newest_first: bool
    ) -> Page[ChatMessage | ChatSession]:
        return self.query_partition(
            user_id,
            parse=entry_from_item,
            limit=limit,
            cursor=cursor,
            # The order is part of the scope: a cursor of one order cannot resume the other.
            scope=f"chat:{session_id}:{int(newest_first)}",
            newest_first=newest_first,
            index=SESSION_INDEX,
            key_condition="user_id = :user_id AND begins_with(session_message_id, :session)",
            values={":session": f"{session_id}#"},
        )

    def delete_messages(self, user_id: str, message_ids: list[str]) -> None:
        """Delete messages (``batch_write`` sends them in batches DynamoDB accepts)."""
        self.batch_write([{"DeleteRequest": {"Key": self.key(user_id, m)}} for m in message_ids])


@functools.cache
def chat_table() -> ChatTable:
    return ChatTable()
