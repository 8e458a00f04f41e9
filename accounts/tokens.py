"""JWT access/refresh pairs for DynamoDB users (simplejwt, no SQL tables).

    pair = issue_tokens(user)   # {"access": "...", "refresh": "..."}
    pair = successor_tokens(user, token_id=jti, rotated_at=epoch)   # a refresh's new pair

Each token carries the user's ``token_version`` as the ``ver`` claim. Changing the
password (or an ops "revoke sessions") bumps the version, which invalidates every
token issued before; a single refresh token is revoked by its ``jti`` instead.

The pair that replaces a refresh token is made from that token's ``jti`` and the time
of the rotation alone (its ids are an HMAC of the old ``jti``), so the same refresh
sent again rebuilds it byte for byte, with nothing secret stored: a client whose
answer was lost, or that sent two refreshes at once, gets the pair it already has.
"""

from dataclasses import dataclass

from django.utils.crypto import salted_hmac
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from dynamo.users import User

VERSION_CLAIM = "ver"
SUCCESSOR_SALT = "dermalens.accounts.tokens.successor"
TOKEN_ID_LENGTH = 32  # as simplejwt's own: a uuid4's hex


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


def successor_id(token_id: str, kind: str) -> str:
    """The ``jti`` of the ``kind`` token ("refresh" or "access") of the pair that
    replaces refresh token ``token_id``: an HMAC with SECRET_KEY, so only the server
    can name it, and the same on every call."""
    digest = salted_hmac(SUCCESSOR_SALT, f"{kind}:{token_id}", algorithm="sha256")
    return digest.hexdigest()[:TOKEN_ID_LENGTH]


def successor_tokens(user: User, *, token_id: str, rotated_at: int) -> TokenPair:
    """The pair that replaces refresh token ``token_id``, issued at ``rotated_at`` (epoch
    seconds). The same user (its ``token_version``), token and time give the same two
    tokens, byte for byte; the lifetimes run from ``rotated_at``."""
    issued = datetime_from_epoch(rotated_at)
    refresh = RefreshToken.for_user(user)  # type: ignore[type-var]
    refresh.current_time = issued  # the access token's expiry runs from it too
    refresh.set_exp(from_time=issued)
    refresh.set_iat(at_time=issued)
    refresh[api_settings.JTI_CLAIM] = successor_id(token_id, "refresh")
    refresh[VERSION_CLAIM] = user.token_version
    access = refresh.access_token
    access.set_iat(at_time=issued)
    access[api_settings.JTI_CLAIM] = successor_id(token_id, "access")
    return TokenPair(access=str(access), refresh=str(refresh))


def read_refresh_token(raw: str) -> RefreshToken | None:
    """The verified refresh token (signature, expiry, type), or None."""
    try:
        # simplejwt's hints omit the encoded-string argument its __init__ takes.
        return RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError:
        return None
