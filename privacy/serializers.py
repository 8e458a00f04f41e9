"""Request shapes of the privacy endpoints."""

from rest_framework import serializers

from accounts.serializers import PASSWORD_FIELD
from dermalens_site.serializers import StrictSerializer


class AccountErasureSerializer(StrictSerializer):
    password = serializers.CharField(
        **PASSWORD_FIELD, help_text="The current password, to confirm the erasure."
    )
