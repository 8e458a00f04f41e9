"""Serializer building blocks shared by every app: strict input, the error shape, pages.

    class RegisterSerializer(StrictSerializer):
        email = serializers.EmailField()

A ``StrictSerializer`` refuses fields it does not declare, so a client can never set a
server-owned value (``user_id``, ``is_staff``, a status) by adding it to a body, and a
typo in a field name is a 400 rather than silently ignored.
"""

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}, code="unknown_field"
                )
        return super().to_internal_value(data)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    details = serializers.DictField(help_text="Field errors or other specifics.")


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API."""

    error = ErrorDetailSerializer()
