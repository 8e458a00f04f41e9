"""Throttles for the account endpoints, counted in DynamoDB and keyed by client address.

DRF's own throttles count in the process's cache, so four gunicorn workers on two hosts
would allow eight times the rate; these count in one atomic DynamoDB counter per
address, scope and window, shared by every worker and host. The window is fixed (it
starts on multiples of the rate's duration), so a burst across a boundary may reach
twice the rate for a moment; the counters expire by TTL.
"""

from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.links import email_digest
from accounts.services import normalize_email
from dynamo.users import users_table

# Counters outlive their window a little, so a slow clock never resets one early.
COUNTER_GRACE_SECONDS = 60


class DynamoRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        # Read at use, not at import, so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = int(self.timer())
        window = self.now // self.duration
        self.window_ends_at = (window + 1) * self.duration
        namespace = settings.RATE_LIMIT_NAMESPACE
        attempts = users_table().count_attempt(
            f"{namespace}#{key}#{window}",
            expires_at=self.window_ends_at + COUNTER_GRACE_SECONDS,
        )
        return attempts <= self.num_requests

    def wait(self) -> float:
        return max(1, self.window_ends_at - self.now)


class LoginThrottle(DynamoRateThrottle):
    scope = "login"


class RegisterThrottle(DynamoRateThrottle):
    scope = "register"


class TokenThrottle(DynamoRateThrottle):
    scope = "token"


class AccountEmailThrottle(DynamoRateThrottle):
    """Requests that send an account email (reset, verification, email change), per client
    address."""

    scope = "account_email"


class EmailAddressThrottle(DynamoRateThrottle):
    """The same requests counted per email address they would write to, whoever asks, so
    that no mailbox can be flooded from many addresses. The address is counted whether or
    not an account has it (the answer must not tell), and only as a keyed digest: the
    counters never hold an address.
    """

    scope = "account_email_address"
    # The body field that holds the address; None: the signed-in account's own address.
    email_field: str | None = "email"

    def get_cache_key(self, request, view) -> str | None:
        email = self.email_of(request)
        if not email:
            return None
        return self.cache_format % {"scope": self.scope, "ident": email_digest(email)}

    def email_of(self, request) -> str | None:
        if self.email_field is None:
            return getattr(request.user, "email", None)
        data = request.data
        value = data.get(self.email_field) if isinstance(data, dict) else None
        return normalize_email(value) if isinstance(value, str) else None


class NewEmailAddressThrottle(EmailAddressThrottle):
    email_field = "new_email"


class OwnEmailAddressThrottle(EmailAddressThrottle):
    email_field = None
