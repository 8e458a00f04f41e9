"""Request and response shapes of the account endpoints."""

from typing import Any

from django.conf import settings
from rest_framework import serializers

from accounts import choices
from accounts.emails import check_new_email
from accounts.hashers import as_hashed
from accounts.validators import UNCHANGED_MESSAGE
from dermalens_site.serializers import StrictSerializer

# A device token (accounts/devices.py) is about 100 characters.
DEVICE_TOKEN_MAX_LENGTH = 512

PASSWORD_FIELD: dict[str, Any] = {
    "write_only": True,
    "trim_whitespace": False,
    "max_length": settings.PASSWORD_MAX_LENGTH,
    "style": {"input_type": "password"},
}


class UserSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    email = serializers.EmailField()
    email_verified = serializers.BooleanField(
        help_text="Whether a link sent to the address has been used."
    )
    full_name = serializers.CharField()
    skin_type = serializers.ChoiceField(choices.SKIN_TYPES, allow_null=True)
    skin_concerns = serializers.ListField(child=serializers.ChoiceField(choices.SKIN_CONCERNS))
    sensitivities = serializers.ListField(child=serializers.ChoiceField(choices.SENSITIVITIES))
    allergies = serializers.ListField(child=serializers.CharField())
    age_range = serializers.ChoiceField(choices.AGE_RANGES, allow_null=True)
    pregnant_or_breastfeeding = serializers.BooleanField(allow_null=True)
    version = serializers.IntegerField(help_text="Send as If-Match to update safely.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class NewEmailField(serializers.EmailField):
    """An address for an account: one mail can reach (``accounts.emails``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", choices.EMAIL_MAX_LENGTH)
        super().__init__(**kwargs)
        self.validators.append(check_new_email)


# Line breaks (and tabs) in a name: the account emails open with it ("Hello <name>,").
LINE_BREAKS = frozenset("\r\n\t\u2028\u2029")


def check_one_line(value: str) -> None:
    if not LINE_BREAKS.isdisjoint(value):
        raise serializers.ValidationError(
            "A name is one line: no line breaks or tabs.", code="line_break"
        )


class NameField(serializers.CharField):
    """A person's name: one line, at most FULL_NAME_MAX_LENGTH characters."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", choices.FULL_NAME_MAX_LENGTH)
        super().__init__(**kwargs)
        self.validators.append(check_one_line)


class RegisterSerializer(StrictSerializer):
    email = NewEmailField()
    password = serializers.CharField(**PASSWORD_FIELD)
    full_name = NameField()


class LoginSerializer(StrictSerializer):
    email = serializers.CharField(max_length=choices.EMAIL_MAX_LENGTH)
    password = serializers.CharField(**PASSWORD_FIELD)
    device_token = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,  # null, as "" or no field: no device token
        max_length=DEVICE_TOKEN_MAX_LENGTH,
        help_text="The `device_token` of an earlier session on this device, if any.",
    )


class RefreshSerializer(StrictSerializer):
    refresh = serializers.CharField(max_length=2048)


class PasswordChangeSerializer(StrictSerializer):
    current_password = serializers.CharField(**PASSWORD_FIELD)
    new_password = serializers.CharField(**PASSWORD_FIELD)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Compared as hashed (one password however the keyboard wrote its accents), before
        # the current one is checked: this says nothing of the stored password, and a
        # change to the same one would only sign out the account.
        if as_hashed(attrs["new_password"]) == as_hashed(attrs["current_password"]):
            raise serializers.ValidationError(
                {"new_password": [UNCHANGED_MESSAGE]}, code="unchanged"
            )
        return attrs


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class AuthSessionSerializer(TokenPairSerializer):
    """What register, login, refresh and password change return."""

    user = UserSerializer()
    device_token = serializers.CharField(
        help_text=(
            "Keep it on this device and send it with later logins (`device_token`): while "
            "failed logins by others lock the account, this device still signs in."
        )
    )


class ProfileUpdateSerializer(StrictSerializer):
    full_name = NameField()
    skin_type = serializers.ChoiceField(choices.SKIN_TYPES, allow_null=True)
    skin_concerns = serializers.ListField(
        child=serializers.ChoiceField(choices.SKIN_CONCERNS),
        max_length=len(choices.SKIN_CONCERNS),
    )
    sensitivities = serializers.ListField(
        child=serializers.ChoiceField(choices.SENSITIVITIES),
        max_length=len(choices.SENSITIVITIES),
    )
    allergies = serializers.ListField(
        child=serializers.CharField(max_length=choices.ALLERGY_MAX_LENGTH),
        max_length=choices.ALLERGIES_MAX_ITEMS,
    )
    age_range = serializers.ChoiceField(choices.AGE_RANGES, allow_null=True)
    pregnant_or_breastfeeding = serializers.BooleanField(allow_null=True)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send at least one field to change.")
        return attrs


# Signed tokens are a few hundred characters; anything much longer is not one of ours.
LINK_TOKEN_MAX_LENGTH = 1024


class PasswordResetRequestSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=choices.EMAIL_MAX_LENGTH)
    device_token = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,  # null, as "" or no field: no device token
        max_length=DEVICE_TOKEN_MAX_LENGTH,
        help_text=(
            "The `device_token` of an earlier session of this account on this device, if "
            "any: the request is then counted on the device, not on the email address."
        ),
    )


class PasswordResetConfirmSerializer(StrictSerializer):
    token = serializers.CharField(max_length=LINK_TOKEN_MAX_LENGTH)
    new_password = serializers.CharField(**PASSWORD_FIELD)


class EmailLinkSerializer(StrictSerializer):
    token = serializers.CharField(max_length=LINK_TOKEN_MAX_LENGTH)


class EmailChangeSerializer(StrictSerializer):
    new_email = NewEmailField()
    password = serializers.CharField(**PASSWORD_FIELD)


class AcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()


class EmailStatusSerializer(serializers.Serializer):
    email = serializers.EmailField()
    email_verified = serializers.BooleanField()
