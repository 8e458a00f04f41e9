"""Account use cases: register, log in, refresh, log out, change password, edit profile.

    user, tokens = register_user(email="a@example.com", password="...", full_name="Ana")

Passwords are hashed with Argon2 and checked by Django's validators; emails are
normalised (trimmed, lower-cased) before anything else sees them.
"""

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from ulid import ULID

from accounts.tokens import VERSION_CLAIM, TokenPair, issue_tokens, read_refresh_token
from dermalens_site.errors import AuthenticationError, Conflict
from dynamo.users import EmailTaken, User, users_table
from telemetry import record as telemetry


class EmailAlreadyRegistered(Conflict):
    default_code = "email_taken"
    default_message = "An account with this email already exists."


class InvalidCredentials(AuthenticationError):
    default_code = "invalid_credentials"
    default_message = "The email or password is incorrect."


class InvalidRefreshToken(AuthenticationError):
    default_code = "invalid_refresh_token"
    default_message = "The refresh token is invalid, expired or revoked."


def normalize_email(email: str) -> str:
    return email.strip().lower()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_new_password(password: str, *, user: Any = None, field: str = "password") -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as err:
        raise serializers.ValidationError({field: list(err.messages)}) from err


def register_user(*, email: str, password: str, full_name: str) -> tuple[User, TokenPair]:
    email = normalize_email(email)
    timestamp = now_iso()
    candidate = User(
        user_id=str(ULID()),
        email=email,
        full_name=full_name.strip(),
        password_hash="",
        created_at=timestamp,
        updated_at=timestamp,
    )
    check_new_password(password, user=candidate)
    user = replace(candidate, password_hash=make_password(password))
    try:
        users_table().create(user)
    except EmailTaken as err:
        raise EmailAlreadyRegistered() from err
    telemetry.signed_up()
    return user, issue_tokens(user)


def log_in(*, email: str, password: str) -> tuple[User, TokenPair]:
    """Unknown email and wrong password fail alike, in about the same time."""
    users = users_table()
    user_id = users.find_user_id(normalize_email(email))
    user = users.get(user_id) if user_id else None
    if user is None:
        # Hash anyway, so the response time does not tell whether the email exists.
        make_password(password)
        raise InvalidCredentials()
    if not check_password(password, user.password_hash) or not user.is_active:
        raise InvalidCredentials()
    return user, issue_tokens(user)


def refresh_session(*, refresh: str) -> tuple[User, TokenPair]:
    """Trade a refresh token for a new pair; the presented one is used up (rotation)."""
    token = read_refresh_token(refresh)
    if token is None:
        raise InvalidRefreshToken()
    users = users_table()
    user = users.get(str(token.get("sub", "")))
    if user is None or not user.is_active or token.get(VERSION_CLAIM) != user.token_version:
        raise InvalidRefreshToken()
    # The conditional write both checks and records revocation, so two requests
    # racing with one refresh token cannot both succeed.
    if not users.revoke_refresh_token(
        user.user_id, token_id=str(token["jti"]), expires_at=int(token["exp"])
    ):
        raise InvalidRefreshToken()
    return user, issue_tokens(user)


def log_out(*, user_id: str, refresh: str) -> None:
    """Revoke the caller's refresh token. Logging out twice is not an error."""
    token = read_refresh_token(refresh)
    if token is None or token.get("sub") != user_id:
        raise InvalidRefreshToken()
    users_table().revoke_refresh_token(
        user_id, token_id=str(token["jti"]), expires_at=int(token["exp"])
    )


def change_password(
    *, user: User, current_password: str, new_password: str
) -> tuple[User, TokenPair]:
    """Set a new password, revoke every token issued before, and return a fresh pair."""
    if not check_password(current_password, user.password_hash):
        raise serializers.ValidationError(
            {"current_password": ["The current password is incorrect."]}
        )
    check_new_password(new_password, user=user, field="new_password")
    updated = users_table().set_password(
        user.user_id, password_hash=make_password(new_password), updated_at=now_iso()
    )
    return updated, issue_tokens(updated)


def update_profile(
    *, user_id: str, changes: Mapping[str, Any], expected_version: int | None = None
) -> User:
    return users_table().update_profile(
        user_id, {**changes, "updated_at": now_iso()}, expected_version=expected_version
    )
