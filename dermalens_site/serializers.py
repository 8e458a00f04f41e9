"""Serializer building blocks shared by every app: strict input, the error shape, pages.

    class RegisterSerializer(StrictSerializer):
        email = serializers.EmailField()

A ``StrictSerializer`` refuses fields it does not declare, so a client can never set a
server-owned value (``user_id``, ``is_staff``, a status) by adding it to a body, and a
typo in a field name is a 400 rather than silently ignored.
"""

from typing import Any

from django.conf import settings
from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, dict):
            unknown = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as err:
            if unknown and isinstance(err.detail, dict):
                raise serializers.ValidationError({**err.detail, **unknown}) from err
            raise
        if unknown:
            raise serializers.ValidationError(unknown, code="unknown_field")
        return value


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    details = serializers.DictField(help_text="Field errors or other specifics.")


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API."""

    error = ErrorDetailSerializer()


class PageQuerySerializer(StrictSerializer):
    """``?limit=&cursor=`` of every list endpoint."""

    limit = serializers.IntegerField(
        min_value=1, max_value=settings.PAGE_SIZE_MAX, default=settings.PAGE_SIZE_DEFAULT
    )
    cursor = serializers.CharField(required=False, max_length=4096)


def page_serializer(item_serializer: type[serializers.Serializer], name: str) -> type:
    """The response shape of a list: ``{"items": [...], "next_cursor": "..." | null}``."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "items": item_serializer(many=True),
            "next_cursor": serializers.CharField(
                allow_null=True, help_text="Pass as ?cursor= for the next page; null at the end."
            ),
        },
    )


def page_body(
    page: Any, serializer_class: type[serializers.Serializer], *, as_data: Any = None
) -> dict[str, Any]:
    """The body of a list response: one page of items and the next page's cursor."""
    items = [as_data(item) for item in page.items] if as_data else page.items
    return {
        "items": serializer_class(items, many=True).data,
        "next_cursor": page.next_cursor,
    }


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """The validated data of a request body or query string; a ValidationError (400) if bad."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


ERROR_RESPONSES = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    404: ErrorSerializer,
    503: ErrorSerializer,
}
