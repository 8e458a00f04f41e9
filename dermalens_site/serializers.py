"""Serializer building blocks shared by every app: strict input, the error shape, pages.

    class RegisterSerializer(StrictSerializer):
        email = serializers.EmailField()

A ``StrictSerializer`` refuses fields it does not declare, so a client can never set a
server-owned value (``user_id``, ``is_staff``, a status) by adding it to a body, and a
typo in a field name is a 400 rather than silently ignored, and so is a field of one
value named twice in a query string or a form. A text field takes text
only: DRF's ``CharField`` turns a JSON number into its digits (``{"full_name": 42}``
would store "42"), which here is a 400 like any other value of the wrong kind. So, in a
JSON body, does a yes-or-no field take only ``true`` or ``false`` (DRF's
``BooleanField`` reads "yes", "off", 1 and "" too, and a pregnancy is a safety input),
and a whole-number field only a JSON integer (not "5" or 5.0). A query string and a form
are text throughout: their numbers are read from it, as DRF does.
"""

import functools
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

UNKNOWN_FIELD = serializers.ErrorDetail("Unknown field.", code="unknown_field")
# An item's version counts its writes; a client that names one past this is wrong (and
# a number past DynamoDB's 38 digits would be refused by the condition that uses it).
MAX_VERSION = 10**15 - 1
# DRF's words for a value its CharField refuses (a list, an object).
NOT_TEXT = serializers.ErrorDetail("Not a valid string.", code="invalid")
CONTROL_CHARACTER = serializers.ErrorDetail(
    "Control characters are not allowed.", code="control_character"
)
# What text may not hold besides NUL, which DRF refuses itself: control characters other
# than line breaks and tabs (an ESC starts a terminal's escape sequence, BEL rings it),
# and the bidirectional overrides and isolates that make text read other than it is
# stored ("\u202e" turns the rest of a name around).
FORBIDDEN_IN_TEXT = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def is_text_for(field: serializers.Field, value: Any) -> bool:
    """Whether ``value`` is of a kind ``field`` takes: text for a text field (or for each
    element of a list of them), anything for the rest (their own checks decide)."""
    if isinstance(field, serializers.CharField):
        return value is None or isinstance(value, str)
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return all(is_text_for(field.child, element) for element in value)
    return True


# A query string or a form names a field more than once (``?limit=5&limit=500``, two
# ``image`` parts): Django's QueryDict gives the last, so which one counted depended on
# how each client, cache or proxy on the way read the repetition.
REPEATED = serializers.ErrorDetail("Give this field once.", code="repeated")


def repeated_fields(data: Any, fields: Mapping[str, serializers.Field]) -> list[str]:
    """The fields of one value that a query string or a form (a QueryDict) names more than
    once; none in a JSON object (whose parser keeps one value per name)."""
    if not hasattr(data, "getlist"):
        return []
    return [
        name
        for name in data
        if name in fields
        and not isinstance(fields[name], serializers.ListField | serializers.MultipleChoiceField)
        and len(data.getlist(name)) > 1
    ]


NOT_BOOLEAN = serializers.ErrorDetail("Must be true or false.", code="invalid")
NOT_INTEGER = serializers.ErrorDetail("A JSON integer is required.", code="invalid")


def json_kind_refusal(field: serializers.Field, value: Any) -> serializers.ErrorDetail | None:
    """Why ``value``, as a JSON body gave it, is not of the kind ``field`` takes (None when
    it is, or when the field's own checks decide: null, and every other field)."""
    if value is None:
        return None
    if isinstance(field, serializers.BooleanField) and not isinstance(value, bool):
        return NOT_BOOLEAN
    is_integer = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(field, serializers.IntegerField) and not is_integer:
        return NOT_INTEGER
    return None


def holds_control_characters(field: serializers.Field, value: Any) -> bool:
    """Whether ``value``, for a text field (or a list of them), holds a character of
    FORBIDDEN_IN_TEXT. Passwords are taken as typed: whatever a password holds, it is
    only ever hashed."""
    if isinstance(field, serializers.CharField) and isinstance(value, str):
        return field.style.get("input_type") != "password" and bool(FORBIDDEN_IN_TEXT.search(value))
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return any(holds_control_characters(field.child, element) for element in value)
    return False


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        refused = {}
        if isinstance(data, dict):
            fields = self.fields
            refused = {name: [UNKNOWN_FIELD] for name in sorted(set(data) - set(fields))}
            refused |= {
                name: [NOT_TEXT]
                for name, value in data.items()
                if name in fields and not is_text_for(fields[name], value)
            }
            refused |= {
                name: [CONTROL_CHARACTER]
                for name, value in data.items()
                if name in fields and holds_control_characters(fields[name], value)
            }
            refused |= {name: [REPEATED] for name in repeated_fields(data, fields)}
        if type(data) is dict:  # a JSON object (a form or a query string is a QueryDict)
            refused |= {
                name: [refusal]
                for name, value in data.items()
                if name in self.fields
                and (refusal := json_kind_refusal(self.fields[name], value)) is not None
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as err:
            if refused and isinstance(err.detail, dict):
                raise serializers.ValidationError({**err.detail, **refused}) from err
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value


class NoBodySerializer(StrictSerializer):
    """The body of an endpoint that takes none (``refuse_fields``)."""


def refuse_fields(data) -> None:
    """A body sent to an endpoint that takes none: each of its fields is a 400
    ``unknown_field``, as in any other body, rather than silently ignored."""
    if not (isinstance(data, Mapping) and not data):  # null, a list, a number: 400s too
        validated(NoBodySerializer, data)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    details = serializers.DictField(help_text="Field errors or other specifics.")


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API."""

    error = ErrorDetailSerializer()


class QueryIntegerField(serializers.IntegerField):
    """A query string's whole number, in ASCII digits: ``int()`` reads an Arabic-Indic
    or a fullwidth 3 as 3, which no client writes on purpose."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and not data.isascii():
            self.fail("invalid")
        return super().to_internal_value(data)


class PageQuerySerializer(StrictSerializer):
    """``?limit=&cursor=`` of every list endpoint."""

    limit = QueryIntegerField(
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
                allow_null=True,
                help_text="Pass as ?cursor= for the next page (it may be empty); null at the end.",
            ),
        },
    )


def page_body(
    page: Any, serializer_class: type[serializers.Serializer], *, as_data: Any = None
) -> dict[str, Any]:
    """The body of a list response: one page of items and the next page's cursor.

    Each item is represented by one instance of ``serializer_class`` that every request
    shares (``to_representation`` keeps nothing on it), into a plain list: a
    ``many=True`` serializer would make a list serializer and a child, each with its
    fields, for every page, and tie the page into reference cycles with them
    (``dermalens_site.renderers``)."""
    represent = shared_instance(serializer_class).to_representation
    items = [as_data(item) for item in page.items] if as_data else page.items
    return {"items": [represent(item) for item in items], "next_cursor": page.next_cursor}


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """The validated data of a request body or query string; a ValidationError (400) if bad.

    Valid input is checked by one instance of the class that every request shares
    (``run_validation`` keeps nothing on it): a new serializer deep-copies each of its
    declared fields, about 0.2 ms of a list page in a worker (bench/overhead.py).
    Invalid input is checked again by a serializer of its own, whose ``is_valid`` gives
    the error its usual shape.
    """
    try:
        return shared_instance(serializer_class).run_validation(data)
    except serializers.ValidationError:
        pass
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@functools.cache
def shared_instance(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """The instance of ``serializer_class`` that requests share, unbound to any data; its
    fields are built here, once, before any request can race to build them."""
    serializer = serializer_class()
    serializer.fields  # noqa: B018 (built now)
    return serializer


ERROR_RESPONSES = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    404: ErrorSerializer,
    503: ErrorSerializer,
}


IDEMPOTENCY_KEY_MAX_LENGTH = 255


def idempotency_key(request) -> str | None:
    """The request's ``Idempotency-Key`` header (surrounding spaces removed), or None; a
    400 when it is empty or longer than 255 characters."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise serializers.ValidationError({"Idempotency-Key": ["Must be 1 to 255 characters."]})
    return key


def idempotency_key_parameter(description: str) -> OpenApiParameter:
    """The ``Idempotency-Key`` header as the schema shows it (``idempotency_key`` reads
    it); ``description`` says what a retry with it gets."""
    return OpenApiParameter(
        "Idempotency-Key",
        {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
        OpenApiParameter.HEADER,
        description=f"Optional. {description}",
    )
