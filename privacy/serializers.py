"""Request shapes of the privacy endpoints."""

from rest_framework import serializers

from accounts.serializers import PASSWORD_FIELD
from dermalens_site.serializers import StrictSerializer


class AccountErasureSerializer(StrictSerializer):
    password = serializers.CharField(
        **PASSWORD_FIELD, help_text="The current password, to confirm the erasure."
    )


class ErasureAcceptedSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`erasing`: the account is closed for good.")
    message = serializers.CharField()


ERASURE_ACCEPTED = {
    "status": "erasing",
    "message": (
        "Your account is closed: you are signed out everywhere and cannot sign in again. "
        "Everything it holds is being erased, which completes within minutes."
    ),
}
