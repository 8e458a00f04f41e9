"""DRF authentication: a simplejwt bearer token, its user read from DynamoDB.

simplejwt's own ``get_user`` queries the ORM; here the users table answers. The user
comes from this process's cache when it was read at most ``AUTH_USER_CACHE_SECONDS``
ago, so that a read endpoint costs one DynamoDB call. A token the cached copy refuses is
checked again against a strongly consistent read before it is refused (the copy may
predate a new password or a re-enabled account). So a change made in this process
(logout everywhere, a new password, an ops page disabling the account) takes effect at
once; one made by another worker or host within those seconds.

An access token's signature and claims are checked once per worker: the checked token
is kept (``access_tokens``, an unpickled process cache) until its ``exp``, and the
same bearer string is taken from there by the worker's later requests. PyJWT prepares
the key and verifies the signature again for every token it decodes (about 40 µs in a
loop; 3 % of a list page's time in a worker, bench/overhead.py). The account behind
the token is still checked on every request, as above, so a revoked token or a
disabled account is refused as before.
"""

import time

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from accounts.tokens import VERSION_CLAIM
from dynamo.process_cache import process_cache
from dynamo.users import User, users_table

VERIFIED_TOKENS_ALIAS = "access_tokens"


class DynamoJWTAuthentication(JWTAuthentication):
    """DRF makes one for each request, so what it read is the request's own."""

    # Whether the user was read from DynamoDB (strongly consistent) in this request,
    # rather than taken from the worker's copy: ``read_in_this_request``.
    user_read_now = False

    def get_raw_token(self, header: bytes) -> bytes | None:
        # An authentication scheme is case-insensitive (RFC 9110, 11.1), and some HTTP
        # clients send "bearer"; simplejwt compares it as written.
        parts = header.split(maxsplit=1)
        if parts and parts[0].lower() == b"bearer":
            header = b" ".join([b"Bearer", *parts[1:]])
        return super().get_raw_token(header)

    def get_validated_token(self, raw_token: bytes) -> Token:
        tokens = process_cache(VERIFIED_TOKENS_ALIAS)
        # A bearer token is ASCII; any other byte is kept apart by latin-1 all the same.
        key = raw_token.decode("latin-1")
        token: Token | None = tokens.get(key)
        if token is None:
            token = super().get_validated_token(raw_token)
            expires = token.get("exp")
            if isinstance(expires, int | float):
                seconds_left = expires - time.time()
                if seconds_left > 0:
                    tokens.set(key, token, seconds_left)
        return token

    # simplejwt's hints fix the user to Django's AbstractBaseUser; ours is a DynamoDB user.
    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        if not isinstance(user_id, str):
            # simplejwt's hints leave out lazy strings, which its exceptions render.
            raise InvalidToken(_("Token contained no recognizable user identification"))  # type: ignore[arg-type]
        user, self.user_read_now = account_for_token(user_id, validated_token.get(VERSION_CLAIM))
        if user is None or not user.is_active:
            # simplejwt's hints leave out lazy strings, which its exceptions render.
            raise AuthenticationFailed(_("The account is disabled or gone."), code="user_inactive")  # type: ignore[arg-type]
        if refuses(user, validated_token.get(VERSION_CLAIM)):
            # simplejwt's hints leave out lazy strings, which its exceptions render.
            raise AuthenticationFailed(_("The token has been revoked."), code="token_revoked")  # type: ignore[arg-type]
        return user


def account_for_token(user_id: str, token_version: object) -> tuple[User | None, bool]:
    """The account a token of ``token_version`` names, as this worker's copy has it, or as
    read now (strongly consistent) when there is no copy young enough or the copy refuses
    the token (it may predate a new password or a re-enabled account); and whether it was
    read now. A token the account refuses costs at most one read."""
    users = users_table()
    max_age = settings.AUTH_USER_CACHE_SECONDS
    user, read_now = users.read_recent(user_id, max_age=max_age)
    if user is not None and not read_now and refuses(user, token_version):
        # The copy may predate this token.
        user, read_now = users.read_again(user_id, max_age=max_age)
    return user, read_now


def refuses(user: User, token_version: object) -> bool:
    """Whether ``user`` (as read) refuses a token of ``token_version``: a disabled account
    or a revoked token (every session ended since it was issued)."""
    return not user.is_active or token_version != user.token_version


def read_in_this_request(request: Request) -> bool:
    """Whether authentication read the request's user from DynamoDB, strongly consistent,
    after the request came: then ``request.user`` is as fresh as reading it again."""
    authenticator = request.successful_authenticator
    return isinstance(authenticator, DynamoJWTAuthentication) and authenticator.user_read_now
