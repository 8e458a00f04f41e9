"""Failed attempts limited per subject (an account's email), whatever the address.

    claim_attempt(policy=login_policy(), subject=email)   # TooManyAttempts while locked
    ...check the password...
    forget_attempts(policy=login_policy(), subject=email)  # after a success only

Each attempt is counted as a failure *before* the secret is checked, and forgotten
after a success. Counting first is what makes the limit hold under concurrency: a
burst of parallel guesses is counted one by one (``dynamo/limits.py`` writes with
optimistic locking), and the attempt that spends the last allowed failure locks the
subject before its secret is even checked, so every other one is refused unchecked.

The ``failures_before_lock``-th failure locks the subject for ``first_lock_seconds``;
each further one (one per lock, once it has passed) doubles the wait, up to
``max_lock_seconds``; a failure-free ``memory_seconds`` forgets them. A subject that
names no account (an unknown email) is counted exactly as one that does, so a lock
says nothing about who is registered. Subjects are stored as keyed digests (HMAC with
SECRET_KEY): the table never holds the email addresses people tried.

Failures are also limited per client address, whatever emails they name
(``claim_address_attempt``): password spraying tries one likely password on many
accounts and never reaches any account's lock. That budget is counted before the
password is checked and given back when it is right, or when the subject's lock refuses
the attempt unchecked, so the hundreds of people behind a shared address spend it only
on their typos (and on guesses that were checked), and a login from the account's own
device is not counted there at all. A spent budget is ``TooManyFailuresFromNetwork``, its
own code and words (the network's limit, whatever the account's state); an account that
used a reset link lately (``mark_reset``) still has its password checked there, and only
the right one passes.

The cost of the design is that anyone who knows an email can keep its logins locked by
failing on purpose; the wait is capped, and the per-address limits slow that down. The
owner's own devices sign in past such a lock (``accounts/devices.py``), and a signed-in
owner confirms a change with the password on a count of its own (``confirmation_policy``).
"""

import math
import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac
from rest_framework import status

from accounts.addresses import IPV6_SITE_PREFIX_LENGTH, wider_networks
from dermalens_site.errors import ApplicationError
from dynamo.limits import FailureRecord, limits_table

# Optimistic writes that lose to a concurrent attempt read again; after this many the
# subject is under a burst, and the attempt is refused like a locked one.
CLAIM_ATTEMPTS = 5
# A refused burst is told to wait this long.
BUSY_RETRY_AFTER_SECONDS = 1


class TooManyAttempts(ApplicationError):
    """The subject (an account's email, a device) is locked after failed attempts."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_attempts"
    default_message = "Too many failed attempts. Try again later."

    def __init__(self, *, retry_after_seconds: int):
        self.retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(
            self.message_for(self.retry_after_seconds),
            details={"retry_after_seconds": self.retry_after_seconds},
        )

    @staticmethod
    def message_for(seconds: int) -> str:
        return f"Too many failed attempts. Try again in {seconds} seconds."


class TooManyFailuresFromNetwork(TooManyAttempts):
    """The client address has spent its failures of the hour (``claim_address_attempt``):
    nothing is wrong with the account, and the person can do something about it."""

    default_code = "too_many_failures_from_network"
    default_message = "Too many failed sign-ins from your network. Try again later."

    @staticmethod
    def message_for(seconds: int) -> str:
        return (
            "Too many failed sign-ins from your network this hour (someone there may be "
            "guessing passwords). Sign in on a device that "
            "signed in before, from another network, or after resetting your password, "
            f"or try again in {seconds} seconds."
        )


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    scope: str  # what is guarded ("login"); subjects of two scopes never share a count
    failures_before_lock: int
    first_lock_seconds: int
    max_lock_seconds: int
    memory_seconds: int

    def lock_seconds(self, failures: int) -> int:
        """How long ``failures`` failures lock the subject (0: not at all)."""
        if failures < self.failures_before_lock:
            return 0
        doublings = failures - self.failures_before_lock
        # Past the cap, doubling further changes nothing; stop before the number grows.
        if self.first_lock_seconds << min(doublings, 62) >= self.max_lock_seconds:
            return self.max_lock_seconds
        return self.first_lock_seconds << doublings


def login_policy() -> LockoutPolicy:
    return _with_login_numbers(scope="login")


def confirmation_policy() -> LockoutPolicy:
    """The password a signed-in account confirms a change with (``services.confirm_password``):
    the login's numbers, counted apart from the logins."""
    return _with_login_numbers(scope="confirm")


def _with_login_numbers(*, scope: str) -> LockoutPolicy:
    return LockoutPolicy(
        scope=scope,
        failures_before_lock=settings.LOGIN_FAILURES_BEFORE_LOCKOUT,
        first_lock_seconds=settings.LOGIN_LOCKOUT_FIRST_SECONDS,
        max_lock_seconds=settings.LOGIN_LOCKOUT_MAX_SECONDS,
        memory_seconds=settings.LOGIN_FAILURES_MEMORY_SECONDS,
    )


def now_seconds() -> float:
    return time.time()


def subject_key(*, policy: LockoutPolicy, subject: str) -> str:
    digest = salted_hmac("dermalens.lockouts", f"{policy.scope}:{subject}", algorithm="sha256")
    return f"{settings.RATE_LIMIT_NAMESPACE}#{policy.scope}#{digest.hexdigest()}"


def claim_attempt(*, policy: LockoutPolicy, subject: str) -> None:
    """Count one attempt on ``subject`` as failed, or raise ``TooManyAttempts``."""
    key = subject_key(policy=policy, subject=subject)
    limits = limits_table()
    for attempt in range(CLAIM_ATTEMPTS):
        now = math.floor(now_seconds())
        record = limits.get_failures(key)
        failures = _current_failures(record, now=now)
        if record is not None and failures and record.locked_until > now:
            raise TooManyAttempts(retry_after_seconds=record.locked_until - now)
        failures += 1
        written = limits.put_failures(
            key,
            failures=failures,
            locked_until=now + policy.lock_seconds(failures),
            expires_at=now + policy.lock_seconds(failures) + policy.memory_seconds,
            previous=record,
        )
        if written:
            return
        time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 (jitter)
    raise TooManyAttempts(retry_after_seconds=BUSY_RETRY_AFTER_SECONDS)


# The window of the per-address budget of failed logins.
ADDRESS_WINDOW_SECONDS = 60 * 60


@dataclass(frozen=True, slots=True)
class AddressAttempt:
    """One attempt counted on a client address's budgets of failures (``give_back``):
    the address's, and an IPv6 client's /56's and /48's."""

    keys: tuple[str, ...]
    counted_at: int

    def give_back(self) -> None:
        """The attempt succeeded: it was no failure."""
        for key in self.keys:
            limits_table().give_back_in_window(
                key, seconds=ADDRESS_WINDOW_SECONDS, now=self.counted_at
            )


def claim_address_attempt(*, address: str) -> AddressAttempt:
    """Count one login from ``address`` as failed, or raise ``TooManyFailuresFromNetwork``
    when the address has spent its failures of the hour (``budgets``). An IPv6 client's
    /64 refused is not counted on its /56 or /48: one subscriber guessing on and on
    spends nothing more of the other subscribers'."""
    now = math.floor(now_seconds())
    counted: list[str] = []
    for network, allowed in budgets(address):
        digest = salted_hmac("dermalens.lockouts", f"address:{network}", algorithm="sha256")
        key = f"{settings.RATE_LIMIT_NAMESPACE}#login_address#{digest.hexdigest()}"
        count = limits_table().count_in_window(key, seconds=ADDRESS_WINDOW_SECONDS, now=now)
        if count.hits > allowed:
            # Refused unchecked: the count stays, as for a locked account.
            raise TooManyFailuresFromNetwork(retry_after_seconds=count.window_ends_at - now)
        counted.append(key)
    return AddressAttempt(tuple(counted), now)


def budgets(address: str) -> list[tuple[str, int]]:
    """The networks ``address`` (``addresses.client_address``) spends failures of, each
    with its budget of the hour: the address's own (an IPv6 client's /64); an IPv6
    client's /56 (a household's /64s) at ``IPV6_56_ALLOWANCE_FACTOR`` times it; and its
    /48, a site's or a carrier's block of many subscribers' /64s, with a budget of its
    own, larger than one address's."""
    own = settings.LOGIN_FAILURES_PER_ADDRESS_PER_HOUR
    networks = [(address, own)]
    for wider in wider_networks(address):
        if wider.prefix_length == IPV6_SITE_PREFIX_LENGTH:
            networks.append((wider.network, settings.LOGIN_FAILURES_PER_IPV6_48_PER_HOUR))
        else:
            networks.append((wider.network, own * wider.factor))
    return networks


def mark_reset(*, email: str) -> None:
    """A reset link was used for ``email``'s account: for ``LOGIN_AFTER_RESET_SECONDS`` its
    sign-ins may pass a client address's spent budget (``reset_lately``)."""
    now = math.floor(now_seconds())
    limits_table().mark(_reset_key(email), until=now + settings.LOGIN_AFTER_RESET_SECONDS)


def reset_lately(*, email: str) -> bool:
    """Whether a reset link was used for ``email``'s account within
    ``LOGIN_AFTER_RESET_SECONDS``: its new password is one no guesser has tried, and using
    the link proved the mailbox."""
    until = limits_table().marked_until(_reset_key(email))
    return until is not None and until > now_seconds()


def _reset_key(email: str) -> str:
    digest = salted_hmac("dermalens.lockouts", f"reset:{email}", algorithm="sha256")
    return f"{settings.RATE_LIMIT_NAMESPACE}#reset#{digest.hexdigest()}"


def forget_attempts(*, policy: LockoutPolicy, subject: str) -> None:
    """A success: the subject's failures no longer count."""
    limits_table().delete_failures(subject_key(policy=policy, subject=subject))


def _current_failures(record: FailureRecord | None, *, now: int) -> int:
    # DynamoDB's TTL deletes an expired record only eventually: it no longer counts.
    if record is None or record.expires_at <= now:
        return 0
    return record.failures
