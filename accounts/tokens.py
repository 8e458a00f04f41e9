"""JWT access/refresh pairs for DynamoDB users (simplejwt, no SQL tables).

    pair = issue_tokens(user)   # {"access": "...", "refresh": "..."}

Each token carries the user's ``token_version`` as the ``ver`` claim. Changing the
password (or an ops "revoke sessions") bumps the version, which invalidates every
token issued before; a single refresh token is revoked by its ``jti`` instead.
"""

from dataclasses import dataclass

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from dynamo.users import User

VERSION_CLAIM = "ver"


@dataclass(frozen=True, slots=True)
class TokenPair:
    access: str
    refresh: str


def issue_tokens(user: User) -> TokenPair:
    # simplejwt's hints bind the user to Django's AbstractBaseUser; for_user only reads
    # the configured id attribute, which the DynamoDB user has.
    refresh = RefreshToken.for_user(user)  # type: ignore[type-var]
    refresh[VERSION_CLAIM] = user.token_version
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def read_refresh_token(raw: str) -> RefreshToken | None:
    """The verified refresh token (signature, expiry, type), or None."""
    try:
        # simplejwt's hints omit the encoded-string argument its __init__ takes.
        return RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError:
        return None
