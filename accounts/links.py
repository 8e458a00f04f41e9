"""The tokens in the links DermaLens emails: password reset, email verification, email change.

    token = password_reset_token(user)               # "<user_id>-<timestamp>-<hmac>"
    user_id = password_reset_user_id(token)          # then check it against the stored user
    ok = password_reset_token_valid(user, token)

Nothing is stored, so nothing can leak from the table. A reset token is Django's
``PasswordResetTokenGenerator`` idea: an HMAC (keyed with SECRET_KEY) over the account's
id, password hash, ``token_version`` and email and the time it was made. Setting a
password changes the hash and the version, so a token works once, and a token made
before any password change (or "revoke sessions") no longer matches; it expires after
``PASSWORD_RESET_TIMEOUT`` seconds.

Verification and email-change tokens are ``django.core.signing`` payloads (signed,
timestamped, read with a ``max_age``) bound to a digest of the account's current email;
an email-change token also to its ``token_version``. Once the email changes, or the
password does, they match no more: single use in effect.
"""

from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.utils.crypto import salted_hmac

from dynamo.users import User

EMAIL_DIGEST_SALT = "dermalens.accounts.email-digest"
VERIFY = "verify"
CHANGE = "change"
# One salt per kind: a verification token can never be read as an email change.
LINK_SALTS = {
    VERIFY: "dermalens.accounts.verify-email",
    CHANGE: "dermalens.accounts.change-email",
}


class ResetTokens(PasswordResetTokenGenerator):
    key_salt = "dermalens.accounts.password-reset"
    algorithm = "sha256"

    def _make_hash_value(self, user: User, timestamp: int) -> str:  # type: ignore[override]
        return f"{user.user_id}{user.password_hash}{user.token_version}{user.email}{timestamp}"


_reset_tokens = ResetTokens()


def password_reset_token(user: User) -> str:
    # A ULID holds no "-", so the first one ends the id.
    # Django's hints name its own User; the generator only reads it in _make_hash_value.
    return f"{user.user_id}-{_reset_tokens.make_token(cast(Any, user))}"


def password_reset_user_id(token: str) -> str | None:
    """The account a reset token names (not yet checked), or None when it is malformed."""
    user_id, separator, _ = token.partition("-")
    return user_id if separator and len(user_id) == 26 and user_id.isalnum() else None


def password_reset_token_valid(user: User, token: str) -> bool:
    user_id, _, generator_token = token.partition("-")
    # Django's hints name its own User; the generator only reads it in _make_hash_value.
    return user_id == user.user_id and _reset_tokens.check_token(cast(Any, user), generator_token)


def email_digest(email: str) -> str:
    """Binds a token to an address without writing the address into the link."""
    return salted_hmac(EMAIL_DIGEST_SALT, email, algorithm="sha256").hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class EmailLink:
    kind: str  # VERIFY or CHANGE
    user_id: str
    email_digest: str  # of the account's email when the link was made
    new_email: str | None = None  # CHANGE: the address to move to
    token_version: int | None = None  # CHANGE: the account's when the link was made

    def matches(self, user: User) -> bool:
        if user.user_id != self.user_id or email_digest(user.email) != self.email_digest:
            return False
        return self.kind == VERIFY or user.token_version == self.token_version


def verification_token(user: User) -> str:
    payload = {"u": user.user_id, "e": email_digest(user.email)}
    return signing.dumps(payload, salt=LINK_SALTS[VERIFY])


def email_change_token(user: User, *, new_email: str) -> str:
    payload = {
        "u": user.user_id,
        "e": email_digest(user.email),
        "n": new_email,
        "v": user.token_version,
    }
    return signing.dumps(payload, salt=LINK_SALTS[CHANGE])


def read_email_link(token: str) -> EmailLink | None:
    """The link's claims when its signature holds and it has not expired, else None."""
    lifetimes = {
        VERIFY: settings.EMAIL_VERIFY_TOKEN_HOURS * 3600,
        CHANGE: settings.EMAIL_CHANGE_TOKEN_HOURS * 3600,
    }
    for kind, salt in LINK_SALTS.items():
        try:
            payload = signing.loads(token, salt=salt, max_age=lifetimes[kind])
        except signing.BadSignature:  # an expired one (SignatureExpired) too
            continue
        try:
            return EmailLink(
                kind=kind,
                user_id=str(payload["u"]),
                email_digest=str(payload["e"]),
                new_email=str(payload["n"]) if kind == CHANGE else None,
                token_version=int(payload["v"]) if kind == CHANGE else None,
            )
        except (KeyError, TypeError, ValueError):
            return None
    return None
