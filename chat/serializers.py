"""Request and response shapes of the chat endpoints."""

from django.conf import settings
from rest_framework import serializers

from ai.chat import ROLES
from chat.services import SESSION_TITLE_MAX_LENGTH
from dermalens_site.serializers import PageQuerySerializer, StrictSerializer, page_serializer

MESSAGE_ORDERS = ("oldest", "newest")


def message_max_length() -> int:
    return settings.CHAT_MESSAGE_MAX_LENGTH


class SessionCreateSerializer(StrictSerializer):
    title = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=SESSION_TITLE_MAX_LENGTH,
        help_text="Optional; without one the session is named after its first message.",
    )


class MessageCreateSerializer(StrictSerializer):
    content = serializers.CharField(
        help_text=f"1 to {message_max_length()} characters (surrounding whitespace removed)."
    )

    def validate_content(self, value: str) -> str:
        # Read here rather than at import, so the setting is honoured as it stands.
        limit = message_max_length()
        if len(value) > limit:
            raise serializers.ValidationError(
                f"Ensure this field has no more than {limit} characters.", code="max_length"
            )
        return value


class MessagePageQuerySerializer(PageQuerySerializer):
    order = serializers.ChoiceField(
        MESSAGE_ORDERS,
        default="oldest",
        help_text="`oldest` first (the default), or `newest` first: a long conversation's "
        "latest messages come on the first page, and each cursor goes further back.",
    )


class SessionSerializer(serializers.Serializer):
    session_id = serializers.CharField()
    title = serializers.CharField(
        allow_null=True, help_text="Null until given or taken from the first message."
    )
    created_at = serializers.DateTimeField()
    last_activity_at = serializers.DateTimeField()
    message_count = serializers.IntegerField()
    version = serializers.IntegerField()


class MessageSerializer(serializers.Serializer):
    message_id = serializers.CharField()
    session_id = serializers.CharField()
    role = serializers.ChoiceField(ROLES)
    content = serializers.CharField(help_text="Plain text; show it as text, never as HTML.")
    created_at = serializers.DateTimeField()


class ExchangeSerializer(serializers.Serializer):
    message = MessageSerializer(help_text="Your message, as stored.")
    reply = MessageSerializer(help_text="The assistant's reply, as stored.")


SessionPageSerializer = page_serializer(SessionSerializer, "ChatSessionPage")
MessagePageSerializer = page_serializer(MessageSerializer, "ChatMessagePage")
