"""DRF authentication: a simplejwt bearer token, its user read from DynamoDB.

simplejwt's own ``get_user`` queries the ORM; here the users table answers (a strongly
consistent GetItem, so a disabled account or a changed password takes effect at once).
"""

from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from accounts.tokens import VERSION_CLAIM
from dynamo.users import User, users_table


class DynamoJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token: Token) -> User:
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        if not isinstance(user_id, str):
            raise InvalidToken(_("Token contained no recognizable user identification"))
        user = users_table().get(user_id)
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("The account is disabled or gone."), code="user_inactive")
        if validated_token.get(VERSION_CLAIM) != user.token_version:
            raise AuthenticationFailed(_("The token has been revoked."), code="token_revoked")
        return user
