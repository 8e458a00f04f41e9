"""Account use cases: register, log in, refresh, log out, change password, edit profile,
and getting back in: password reset, email verification, email change.

    user, tokens = register_user(email="a@example.com", password="...", full_name="Ana")
    request_password_reset(email="a@example.com")      # a link by email, if the account exists
    user, tokens = reset_password(token=token, new_password="...")

Passwords are hashed with Argon2 and checked by Django's validators; emails are
normalised (trimmed, lower-cased) before anything else sees them. Emails are sent
(``accounts.mail``) only once the use case's writes have succeeded.
"""

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from ulid import ULID

from accounts import links
from accounts.devices import device_of
from accounts.emails import canonical_email
from accounts.hashers import as_hashed
from accounts.lockouts import (
    AddressAttempt,
    TooManyAttempts,
    TooManyFailuresFromNetwork,
    claim_address_attempt,
    claim_attempt,
    confirmation_policy,
    forget_attempts,
    login_policy,
    mark_reset,
    reset_lately,
)
from accounts.mail import render_account_email, send_account_email
from accounts.tokens import (
    VERSION_CLAIM,
    TokenPair,
    issue_tokens,
    read_refresh_token,
    successor_id,
    successor_tokens,
)
from accounts.validators import UNCHANGED_MESSAGE
from dermalens_site.concurrency import Overloaded, Parameters, Result, password_work_place
from dermalens_site.errors import (
    ApplicationError,
    AuthenticationError,
    Conflict,
    ServiceUnavailable,
)
from dynamo.errors import DynamoError, ItemNotFound, VersionConflict
from dynamo.users import (
    REFRESH_ROTATED,
    EmailChangeRefused,
    EmailTaken,
    RefreshRevocation,
    User,
    users_table,
)
from telemetry import record as telemetry

logger = logging.getLogger("dermalens.accounts")


class EmailAlreadyRegistered(Conflict):
    default_code = "email_taken"
    default_message = "An account with this email already exists."


class InvalidCredentials(AuthenticationError):
    default_code = "invalid_credentials"
    default_message = "The email or password is incorrect."


class PasswordChecksBusy(ServiceUnavailable):
    default_message = (
        "Too many sign-ins are being checked right now; nothing was counted, please retry "
        "in a few seconds."
    )
    retry_after_seconds = 5


@contextlib.contextmanager
def password_place(*, trusted: bool = False) -> Iterator[None]:
    """The block in a place of the worker's password line (``dermalens_site.concurrency``):
    when the line is full it is ``PasswordChecksBusy`` (503) at once, before any attempt
    is counted against the account, rather than a wait longer than the client's.
    ``trusted``: the account's own request, which may take the places kept for those."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(password_work_place(trusted=trusted))
        except Overloaded as err:
            raise PasswordChecksBusy(details={"reason": "busy"}) from err
        yield


def checks_passwords(
    *, trusted: bool
) -> Callable[[Callable[Parameters, Result]], Callable[Parameters, Result]]:
    """Run a use case that checks or sets a password in a place of the password line;
    ``trusted`` for a signed-in account's own use cases."""

    def in_line_of(use_case: Callable[Parameters, Result]) -> Callable[Parameters, Result]:
        @functools.wraps(use_case)
        def in_line(*args: Parameters.args, **kwargs: Parameters.kwargs) -> Result:
            with password_place(trusted=trusted):
                return use_case(*args, **kwargs)

        return in_line

    return in_line_of


class InvalidRefreshToken(AuthenticationError):
    default_code = "invalid_refresh_token"
    default_message = "The refresh token is invalid, expired or revoked."


class InvalidLinkToken(ApplicationError):
    """One answer for every token that cannot be used: tampered, expired, used or outdated."""

    default_code = "invalid_token"
    default_message = "This link is invalid, expired or already used; ask for a new one."


class AccountGone(AuthenticationError):
    default_code = "user_inactive"
    default_message = "The account is disabled or gone."


class SessionEnded(AuthenticationError):
    default_message = "The token has been revoked."


class EmailAlreadyVerified(Conflict):
    default_code = "email_already_verified"
    default_message = "This account's email address is already verified."


# A write conditioned on the account's version may meet another write of the account (a
# profile edit): the link is checked again against a fresh read and the write retried.
LINK_WRITE_ATTEMPTS = 3

# An account that does not exist still costs a token and a rendered message, so that a
# password-reset request takes about as long either way.
DECOY_USER = User(
    user_id="0" * 26,
    email="nobody@invalid",
    full_name="",
    password_hash=make_password(None),
    created_at="",
    updated_at="",
)


def normalize_email(email: str) -> str:
    """The address as accounts are keyed by it (``accounts.emails``)."""
    return canonical_email(email)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_new_password(password: str, *, user: Any = None, field: str = "password") -> None:
    """Django's validators, on the password as typed and as it is hashed (``as_hashed``):
    typed in full-width letters, a common password is as common, and one character that
    NFKC spells out in many ("\ufdfa" is 18) is still one character typed."""
    messages: list[str] = []
    for form in dict.fromkeys((password, as_hashed(password))):
        try:
            validate_password(form, user=user)
        except DjangoValidationError as err:
            messages += [message for message in err.messages if message not in messages]
    if messages:
        raise serializers.ValidationError({field: messages})


@checks_passwords(trusted=False)
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
    send_verification_link(user=user)
    telemetry.signed_up()
    return user, issue_tokens(user)


def log_in(
    *,
    email: str,
    password: str,
    address: str,
    device_token: str | None = None,
    account: User | None = None,
) -> tuple[User, TokenPair]:
    """Unknown email and wrong password fail alike, in about the same time.

    Failures are limited per email (``accounts/lockouts.py``), registered or not: a
    locked email is ``TooManyAttempts`` (429) before any password is checked. A login
    with a valid device token of this very account (``accounts/devices.py``) is counted
    on that device instead, so a lock that strangers keep up does not keep the owner's
    own devices out. Any other login is also counted on the budget of failures of the
    client ``address`` (spraying one password over many emails), and given back when
    the password is right. Past that budget a login is ``TooManyFailuresFromNetwork``
    (429) unchecked, except the logins of an account that used a reset link lately
    (``lockouts.reset_lately``): their password is checked (and counted on the email),
    and only the right one gets anything but that same 429.

    ``account``: the account with this email as the caller read it (strongly consistent)
    for this request, if it did (the login throttle checks a device token so); it is not
    read again.
    """
    email = normalize_email(email)
    policy = login_policy()
    device = device_of(device_token)
    # Without a device token nothing is read before the attempt is counted.
    user = registered_with(email, account) if device is not None else None
    own_device = device is not None and device.belongs_to(user)
    subject = device.lockout_subject if device and own_device else email
    with password_place(trusted=own_device):
        address_attempt: AddressAttempt | None = None
        # Set when the address has spent its failures and the email's account used a reset
        # link lately: then only the right password signs in, and any other answer is this
        # one, the answer of every login from the address (``lockouts.reset_lately``).
        spent: TooManyFailuresFromNetwork | None = None
        if not own_device:
            try:
                address_attempt = claim_address_attempt(address=address)
            except TooManyFailuresFromNetwork as refused:
                if not reset_lately(email=email):
                    raise
                spent = refused
        try:
            claim_attempt(policy=policy, subject=subject)
        except TooManyAttempts:
            # Refused unchecked, this guessed nothing: one person hammering a locked email
            # spent the address's failures, and everyone behind it was refused a sign-in.
            if address_attempt is not None:
                address_attempt.give_back()
            if spent is not None:
                raise spent from None
            raise
        if device is None:
            user = registered_with(email, account)
        if user is None:
            # Hash anyway, so the response time does not tell whether the email exists.
            make_password(password)
            raise spent or InvalidCredentials()
        right = check_password(password, user.password_hash, setter=rehashed(user))
        if not right or not user.is_active:
            raise spent or InvalidCredentials()
    forget_attempts(policy=policy, subject=email)
    if subject != email:
        forget_attempts(policy=policy, subject=subject)
    if address_attempt is not None:
        address_attempt.give_back()
    return user, issue_tokens(user)


def rehashed(user: User) -> Callable[[str], None]:
    """What a right password does when its stored hash is not the preferred one (made
    with other parameters, as Django's eight-lane Argon2, or another algorithm): it is
    hashed anew, tokens kept. A failure to store it leaves the old hash, still valid."""

    def store(password: str) -> None:
        try:
            users_table().rehash_password(
                user.user_id, old_hash=user.password_hash, new_hash=make_password(password)
            )
        except DynamoError as err:
            logger.warning("password rehash not stored", extra={"error": type(err).__name__})

    return store


def registered_with(email: str, account: User | None = None) -> User | None:
    """The account with ``email`` (a normalised address): ``account`` when the caller has
    just read it (strongly consistent), else read (the email's claim, then the account)."""
    if account is not None and account.email == email:
        return account
    users = users_table()
    user_id = users.find_user_id(email)
    return users.get(user_id) if user_id else None


def refresh_session(*, refresh: str, account: User | None = None) -> tuple[User, TokenPair]:
    """Trade a refresh token for a new pair; the presented one is used up (rotation).

    A rotated token presented again means that two parties hold the chain, the owner
    and someone who copied a token, and the server cannot tell which is which: every
    session of the account ends (RFC 9700, refresh token rotation), and the owner logs
    in again. A token revoked by logout is only refused. Where REFRESH_RETRY_SECONDS is
    set (it is 0, off, by default), the same token sent again that soon after its
    rotation, while the new refresh token is still unused, is taken for the same client
    asking again (its answer was lost, or it sent two refreshes at once): it gets the
    very pair it was given, so the chain stays one.
    ``account``: the token's account as the caller read it (strongly consistent) for
    this request, if it did (the refresh throttle does); it is not read again.
    """
    token = read_refresh_token(refresh)
    if token is None:
        raise InvalidRefreshToken()
    users = users_table()
    user_id = str(token.get("sub", ""))
    user = account if account is not None and account.user_id == user_id else users.get(user_id)
    if user is None or not user.is_active or token.get(VERSION_CLAIM) != user.token_version:
        raise InvalidRefreshToken()
    token_id = str(token["jti"])
    rotated_at = int(time.time())
    # The conditional write both checks and records revocation, so two requests
    # racing with one refresh token cannot both succeed.
    if users.revoke_refresh_token(
        user.user_id,
        token_id=token_id,
        expires_at=int(token["exp"]),
        reason=REFRESH_ROTATED,
        rotated_at=rotated_at,
    ):
        return user, successor_tokens(user, token_id=token_id, rotated_at=rotated_at)
    revocation = users.refresh_token_revocation(token_id)
    retried = retried_rotation(revocation, token_id=token_id)
    if retried is not None:
        logger.info("refresh sent again: the same pair given", extra={"user_id": user.user_id})
        return user, successor_tokens(user, token_id=token_id, rotated_at=retried)
    end_sessions_if_rotated(user_id=user.user_id, token_id=token_id, revocation=revocation)
    raise InvalidRefreshToken()


def retried_rotation(revocation: RefreshRevocation | None, *, token_id: str) -> int | None:
    """When a used-up refresh token presented again is its client asking again, the time
    of its rotation (its new pair's): within REFRESH_RETRY_SECONDS of it, and the refresh
    token that replaced it unused (neither traded on nor logged out). Else None."""
    if revocation is None or revocation.reason != REFRESH_ROTATED:
        return None
    rotated_at = revocation.rotated_at
    if rotated_at is None or not 0 <= time.time() - rotated_at < settings.REFRESH_RETRY_SECONDS:
        return None
    if users_table().refresh_token_revocation(successor_id(token_id, "refresh")) is not None:
        return None
    return rotated_at


def end_sessions_if_rotated(
    *, user_id: str, token_id: str, revocation: RefreshRevocation | None = None
) -> None:
    """A refresh token presented after it was traded for a new pair (rotation): every
    session of the account ends, since someone else holds the chain it began.
    ``revocation``: the token's, when the caller has just read it."""
    users = users_table()
    if revocation is None:
        revocation = users.refresh_token_revocation(token_id)
    if revocation is not None and revocation.reason == REFRESH_ROTATED:
        users.revoke_sessions(user_id, updated_at=now_iso())
        logger.warning(
            "rotated refresh token reused: every session of the account revoked",
            extra={"user_id": user_id},
        )


def log_out(*, user_id: str, refresh: str) -> None:
    """Revoke the caller's refresh token. Logging out twice is not an error.

    A token already traded for a new pair is reuse, as in a refresh: the session it
    began lives on in a token someone else holds, which only ending every session ends.
    """
    token = read_refresh_token(refresh)
    if token is None or token.get("sub") != user_id:
        raise InvalidRefreshToken()
    token_id = str(token["jti"])
    if not users_table().revoke_refresh_token(
        user_id, token_id=token_id, expires_at=int(token["exp"])
    ):
        end_sessions_if_rotated(user_id=user_id, token_id=token_id)


@checks_passwords(trusted=True)  # signed in
def change_password(
    *, user: User, current_password: str, new_password: str
) -> tuple[User, TokenPair]:
    """Set a new password, revoke every token issued before, and return a fresh pair.

    The current password is a confirmation (``confirm_password``): guessing it is
    limited, and it counts as a failed login too. The write holds only if the account is
    still as the confirmation read it (a racing change is a 409 ``version_conflict``).
    """
    user = confirm_password(
        user, current_password, field="current_password", wrong="The current password is incorrect."
    )
    check_new_password(new_password, user=user, field="new_password")
    updated = users_table().set_password(
        user.user_id,
        password_hash=make_password(new_password),
        updated_at=now_iso(),
        expected_version=user.version,
    )
    notify_password_changed(user=updated, by_reset=False)
    return updated, issue_tokens(updated)


@checks_passwords(trusted=True)  # signed in
def confirm_password(
    user: User, password: str, *, field: str = "password", wrong: str = "The password is incorrect."
) -> User:
    """Check the password a signed-in account confirms a change with: a new password, a
    new email address, an erasure. A wrong one is a 400 on ``field``; a right one returns
    the account as it is now.

    ``user`` is the account as authentication took it, perhaps from the worker's copy
    (``AUTH_USER_CACHE_SECONDS``), which may predate a new password or a "revoke
    sessions" made through another worker: the password is checked against the account
    read now (strongly consistent), and a token whose sessions have ended since is
    refused (401), so an old phone's holder who knows the old password can neither set
    a new one nor erase the account in those seconds.

    Guessing it is limited like a login, with a count of its own per account and token
    version, which only the holder of one of the account's tokens can spend: strangers
    who keep the account's logins locked do not keep its signed-in owner from changing
    the password or the address, or from erasing the account. Each wrong password counts
    as a failed login as well (without being refused by that lock), so a stolen access
    token is no better a way to guess than the login. Ending every session (a new
    password, an ops "revoke sessions") starts the count afresh; a right password
    forgets both counts, as a login does.
    """
    user = current_account(user)
    policy = confirmation_policy()
    subject = f"{user.user_id}:{user.token_version}"
    claim_attempt(policy=policy, subject=subject)
    if not check_password(password, user.password_hash):
        with contextlib.suppress(TooManyAttempts):
            claim_attempt(policy=login_policy(), subject=user.email)
        raise serializers.ValidationError({field: [wrong]})
    forget_attempts(policy=policy, subject=subject)
    forget_attempts(policy=login_policy(), subject=user.email)
    return user


def current_account(user: User) -> User:
    """The signed-in ``user`` as stored now (strongly consistent), while the sessions of
    the token it signed in with have not ended (its ``token_version`` is the account's)."""
    current = users_table().get(user.user_id)
    if current is None or not current.is_active:
        raise AccountGone()
    if current.token_version != user.token_version:
        raise SessionEnded()
    return current


def update_profile(
    *, user_id: str, changes: Mapping[str, Any], expected_version: int | None = None
) -> User:
    return users_table().update_profile(
        user_id, {**changes, "updated_at": now_iso()}, expected_version=expected_version
    )


# --- Getting back in: password reset, email verification, email change -----------------


def request_password_reset(*, email: str, account: User | None = None) -> None:
    """Email a reset link when an active account has this address; nothing tells which.

    Known and unknown addresses cost the same: two strongly consistent reads, a token
    and a rendered message; the message itself leaves on the sender thread. Those reads
    are skipped only for ``account``, the account with this address as the caller read
    it for this request (the reset throttle, checking the account's own device token,
    whose holder knows the account exists).
    """
    email = normalize_email(email)
    if account is not None and account.email == email:
        user: User | None = account
    else:
        users = users_table()
        user_id = users.find_user_id(email)
        user = users.get(user_id or DECOY_USER.user_id)
    if user is None or not user.is_active:
        render_account_email(**password_reset_email(DECOY_USER))
        return
    send_password_reset_link(user=user)


def send_password_reset_link(*, user: User) -> None:
    """Email ``user`` a link to set a new password (also what staff send from ops).

    The link goes to the account's current address only, which is either the one it
    registered with or one proven by a link sent there (an email change takes effect
    only through such a link), never an address nobody has shown to be theirs.
    """
    send_account_email(**password_reset_email(user))


def greeting_name(user: User, *, to: str) -> str:
    """The account's name to greet ``to`` with: only at the address the account has
    proved it reads. A name is text whoever registers writes ("Bob, sign in at ..."):
    to an address not yet proved (a registration, a reset or a new address asked for)
    the message would carry a stranger's words to whoever has the mailbox."""
    return user.full_name if user.email_verified and to == user.email else ""


def password_reset_email(user: User) -> dict[str, Any]:
    return {
        "kind": "password_reset",
        "to": user.email,
        "context": {
            "full_name": greeting_name(user, to=user.email),
            "link": link_to(settings.PASSWORD_RESET_URL, links.password_reset_token(user)),
            "lifetime_minutes": settings.PASSWORD_RESET_TOKEN_MINUTES,
        },
    }


def check_password_reset_token(*, token: str, account: User | None = None) -> User:
    """The account a reset token may set a password for, or ``InvalidLinkToken``.
    ``account``: the account as this request already read it (strongly consistent),
    used when it is the one the token names."""
    user_id = links.password_reset_user_id(token)
    if account is not None and user_id and account.user_id == user_id:
        user: User | None = account
    else:
        user = users_table().get(user_id) if user_id else None
    if user is None or not user.is_active or not links.password_reset_token_valid(user, token):
        raise InvalidLinkToken()
    return user


@checks_passwords(trusted=False)
def reset_password(
    *, token: str, new_password: str, account: User | None = None
) -> tuple[User, TokenPair]:
    """Set the password a reset link allows; every session ends; a fresh pair is returned.

    The write is conditioned on the account's version as the token was checked, so of
    two requests racing with one link exactly one sets a password (the other finds the
    token no longer matches). Using the link also proves the address: it is marked
    verified, and the failed logins counted against it are forgotten: whoever forgot a
    password has usually locked its logins by guessing, and the new password signs in at
    once, on any device (the new password is one no guesser has tried), from an address
    whose failures others spent too (``lockouts.mark_reset``). The password it
    would replace is refused, as in a change: setting it would end every session and
    leave the account as guessable as before. ``account``: as this request already read
    it (``check_password_reset_token``).
    """
    user = check_password_reset_token(token=token, account=account)
    check_new_password(new_password, user=user, field="new_password")
    # Told only to the holder of a valid link, who may set any password anyway.
    if check_password(new_password, user.password_hash):
        raise serializers.ValidationError({"new_password": [UNCHANGED_MESSAGE]}, code="unchanged")
    password_hash = make_password(new_password)
    last_error: Exception | None = None
    for _ in range(LINK_WRITE_ATTEMPTS):
        try:
            updated = users_table().set_password(
                user.user_id,
                password_hash=password_hash,
                updated_at=now_iso(),
                expected_version=user.version,
                email_verified=True,
            )
        except (VersionConflict, ItemNotFound) as err:
            # Something else changed the account (a profile edit, or this very link
            # used by a racing request): the token decides whether to try again.
            user = check_password_reset_token(token=token)
            last_error = err
            continue
        forget_attempts(policy=login_policy(), subject=updated.email)
        try:
            mark_reset(email=updated.email)
        except DynamoError as err:
            # The password is set and the link used up: a 503 now would tell the person
            # it failed. Without the mark, only a spent address still refuses them.
            logger.warning("reset not marked", extra={"error": type(err).__name__})
        notify_password_changed(user=updated, by_reset=True)
        return updated, issue_tokens(updated)
    raise InvalidLinkToken() from last_error


def send_verification_link(*, user: User) -> None:
    token = links.verification_token(user)
    send_account_email(
        kind="verify_email",
        to=user.email,
        context={
            "full_name": greeting_name(user, to=user.email),
            "link": link_to(settings.EMAIL_VERIFY_URL, token),
            "lifetime_hours": settings.EMAIL_VERIFY_TOKEN_HOURS,
        },
    )


def resend_verification_link(*, user_id: str) -> None:
    user = users_table().get(user_id)
    if user is None:
        raise AccountGone()
    if user.email_verified:
        raise EmailAlreadyVerified()
    send_verification_link(user=user)


def use_email_link(*, token: str) -> User:
    """Verify the address a verification link was sent to, or move the account to the
    address an email-change link was sent to (which proves that address too)."""
    link = links.read_email_link(token)
    if link is None:
        raise InvalidLinkToken()
    users = users_table()
    for _ in range(LINK_WRITE_ATTEMPTS):
        # Read (again, after a conflicting write): the link must still match the account.
        user = users.get(link.user_id)
        if user is None or not user.is_active or not link.matches(user):
            raise InvalidLinkToken()
        try:
            if link.kind == links.VERIFY:
                if user.email_verified:
                    return user  # the same link opened twice: nothing more to do
                return users.mark_email_verified(
                    user.user_id, expected_version=user.version, updated_at=now_iso()
                )
            return change_email(user=user, new_email=str(link.new_email))
        except (VersionConflict, ItemNotFound, EmailChangeRefused):
            continue
        except EmailAlreadyRegistered:
            # The address is this account's when a racing use of this very link (a
            # double-click) moved it there: then the next read finds the link used.
            if users.find_user_id(str(link.new_email)) != user.user_id:
                raise
    raise InvalidLinkToken()


def change_email(*, user: User, new_email: str) -> User:
    try:
        updated = users_table().change_email(user, new_email=new_email, updated_at=now_iso())
    except EmailTaken as err:
        raise EmailAlreadyRegistered() from err
    send_account_email(
        kind="email_changed",
        to=user.email,
        context={
            "full_name": greeting_name(user, to=user.email),
            "new_email_hint": email_hint(updated.email),
            "at": updated.updated_at[:16].replace("T", " "),
        },
    )
    return updated


def request_email_change(*, user: User, new_email: str, password: str) -> None:
    """Send a confirmation link to ``new_email`` and a notice to the current address.

    Nothing changes until the link is used (``use_email_link``); a password change in
    the meantime makes the link useless.
    """
    users = users_table()
    user = confirm_password(user, password)
    new_email = normalize_email(new_email)
    if new_email == user.email:
        raise serializers.ValidationError(
            {"new_email": ["This is already the account's email address."]}
        )
    if users.find_user_id(new_email) is not None:
        raise EmailAlreadyRegistered()
    token = links.email_change_token(user, new_email=new_email)
    send_account_email(
        kind="email_change",
        to=new_email,
        context={
            "full_name": greeting_name(user, to=new_email),
            "link": link_to(settings.EMAIL_VERIFY_URL, token),
            "lifetime_hours": settings.EMAIL_CHANGE_TOKEN_HOURS,
        },
    )
    send_account_email(
        kind="email_change_requested",
        to=user.email,
        context={
            "full_name": greeting_name(user, to=user.email),
            "new_email_hint": email_hint(new_email),
        },
    )


def notify_password_changed(*, user: User, by_reset: bool) -> None:
    send_account_email(
        kind="password_changed",
        to=user.email,
        context={
            "full_name": greeting_name(user, to=user.email),
            "by_reset": by_reset,
            "at": user.updated_at[:16].replace("T", " "),
        },
    )


def link_to(page: str, token: str) -> str:
    separator = "&" if "?" in page else "?"
    return f"{page}{separator}{urlencode({'token': token})}"


def email_hint(email: str) -> str:
    """a***@example.com: enough to recognise an address, not to harvest one."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
