"""The chat-messages table: every message of every session, in the user's partition.

    chat = chat_table()
    chat.put(message)
    page = chat.query_session(user_id, session_id, limit=50)

``message_id`` is a ULID (time order across the partition); the ``session-index`` LSI
sorts by ``session_message_id`` = "<session_id>#<message_id>", so one Query with
``begins_with`` returns one session's messages in time order.
"""

import functools
from dataclasses import dataclass

from dynamo.base import Page, Table
from dynamo.codec import Item, to_item
from dynamo.tables import CHAT

# BatchWriteItem takes at most 25 requests.
BATCH_WRITE_MAX_ITEMS = 25


@dataclass(frozen=True, slots=True)
class ChatMessage:
    user_id: str
    message_id: str
    session_id: str
    role: str  # user | assistant
    content: str
    created_at: str


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


class ChatTable(Table):
    definition = CHAT

    def put(self, message: ChatMessage) -> None:
        self.call(
            "put_item",
            Item=message_to_item(message),
            ConditionExpression="attribute_not_exists(message_id)",
        )

    def query_session(
        self,
        user_id: str,
        session_id: str,
        *,
        limit: int,
        cursor: str | None = None,
        newest_first: bool = False,
    ) -> Page[ChatMessage]:
        return self.query_partition(
            user_id,
            parse=message_from_item,
            limit=limit,
            cursor=cursor,
            scope=f"chat:{session_id}",
            newest_first=newest_first,
            index="session-index",
            key_condition="user_id = :user_id AND begins_with(session_message_id, :session)",
            values={":session": f"{session_id}#"},
        )

    def delete_messages(self, user_id: str, message_ids: list[str]) -> None:
        """Delete messages in batches of 25, retrying unprocessed items with backoff."""
        for start in range(0, len(message_ids), BATCH_WRITE_MAX_ITEMS):
            chunk = message_ids[start : start + BATCH_WRITE_MAX_ITEMS]
            requests = [
                {"DeleteRequest": {"Key": {"user_id": {"S": user_id}, "message_id": {"S": m}}}}
                for m in chunk
            ]
            self.batch_write(requests)


@functools.cache
def chat_table() -> ChatTable:
    return ChatTable()
