"""Throttles counted in DynamoDB, keyed by client address, by account (uploads, a signed-in
account's email sending) or by email address (the mailbox a message goes to).

    @action(detail=False, methods=["post"], throttle_classes=[LoginThrottle])

DRF's own throttles count in the process's cache, so four gunicorn workers on two hosts
would allow eight times the rate; these count in one atomic DynamoDB counter per key,
scope and window, shared by every worker and host. The window is fixed (it starts on
multiples of the rate's duration), so a burst across a boundary may reach twice the
rate for a moment; the counters expire by TTL.

The per-address limits are generous flood brakes: an account's password is defended by
the per-account lockout (``accounts/lockouts.py``), which no change of address escapes.
Anyone behind an address can spend its brakes, so a login, refresh or reset request that
proves an earlier session is counted on its account instead (``SessionProofThrottle``),
and a reset request from the account's own device on that device, not on the mailbox
(``ResetEmailAddressThrottle``).
A token proves a session only while the account's ``token_version`` is the one it was
issued with: once every session ends (a new password, "revoke sessions") an old
phone's tokens are no token at all here.
DRF counts a view's limits before the view reads the body: a limit that everyone behind
an address shares gives back the count of a request refused for its input
(``gives_back_refused_input``, ``refused_for_input``), when the exception handler answers
it (``dermalens_site.errors.on_error``).
The client's address is read through ``NUM_PROXIES`` trusted proxies
(``addresses.client_address``), so a client cannot choose it by writing
``X-Forwarded-For``; an IPv6 client is counted on its /64 and, at multiples of the
rate, on its /56 and its /48 (``counters``).
"""

import logging
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from rest_framework import exceptions, status
from rest_framework.serializers import Serializer
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.addresses import client_address, wider_networks
from accounts.authentication import account_for_token, read_in_this_request, refuses
from accounts.devices import Device, device_of
from accounts.emails import inbox_of
from accounts.links import (
    email_digest,
    password_reset_token_valid,
    password_reset_user_id,
    read_email_link,
)
from accounts.serializers import (
    LINK_TOKEN_MAX_LENGTH,
    LoginSerializer,
    PasswordResetRequestSerializer,
)
from accounts.services import normalize_email
from accounts.tokens import VERSION_CLAIM, read_refresh_token
from dermalens_site.errors import (
    ApplicationError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    on_error,
)
from dynamo.errors import DynamoError
from dynamo.limits import limits_table
from dynamo.users import User, users_table
from telemetry.record import watch_ai_calls

logger = logging.getLogger("dermalens.throttles")


def text_in_body(request, field: str) -> str | None:
    """A text field of the request's JSON body (None: absent, not text, or no parsed body,
    as in the Django request the ops sign-in hands)."""
    data = getattr(request, "data", None)
    value = data.get(field) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


# Where ``device_of_named_account`` leaves its answer: a request's limits that each ask
# it (a reset's per email and per address) read the claim and the account once.
NAMED_DEVICE = "dermalens_named_device"


def device_of_named_account(request, body: type[Serializer]) -> Device | None:
    """The device of the request's ``device_token`` if it is a device of the account that
    has the address the body names, as that account is now, else None: a token of any
    other account proves nothing about a request for this one, and neither does one
    issued before every session of the account ended (a new password, "revoke
    sessions"), which an old phone's holder may still have. Read only for a token whose
    signature holds in a body the view accepts (a throttle runs before the view validates
    it, and an address longer than a DynamoDB key is an error there, not a 400): the
    address's claim, and the account (``proves_session``)."""
    if hasattr(request, NAMED_DEVICE):
        known: Device | None = getattr(request, NAMED_DEVICE)
        return known
    device = read_device_of_named_account(request, body)
    setattr(request, NAMED_DEVICE, device)
    return device


def read_device_of_named_account(request, body: type[Serializer]) -> Device | None:
    device = device_of(text_in_body(request, "device_token"))
    if device is None:
        return None
    request_body = body(data=getattr(request, "data", None))
    if not request_body.is_valid():
        return None
    email = normalize_email(request_body.validated_data["email"])
    if users_table().find_user_id(email) != device.user_id:
        return None
    return device if proves_session(request, device.user_id, device.token_version) else None


# Where a throttle leaves the account it read for the request (``account_read_now``).
ACCOUNT_READ_NOW = "dermalens_account_read_now"


def proves_session(request, user_id: str, token_version: object) -> bool:
    """Whether a token of ``token_version`` is still one of account ``user_id``'s sessions.

    The account comes from the worker's copy when it is young and accepts the token, else
    it is read, strongly consistent (``authentication.account_for_token``); an account
    read so is left on the request for the view, whose use case reads it anyway
    (``account_read_now``), so the check costs no read of its own.
    """
    user, read_now = account_for_token(user_id, token_version)
    if read_now:
        setattr(request, ACCOUNT_READ_NOW, user)
    return user is not None and not refuses(user, token_version)


def account_read_now(request) -> User | None:
    """The account a throttle of ``request`` read from DynamoDB (strongly consistent) to
    check the session the request proves, for the view to hand to its use case instead
    of reading it again; None when no throttle read one."""
    account: User | None = getattr(request, ACCOUNT_READ_NOW, None)
    return account


# Set on a request that a limit refused: the view's later limits do not count it.
REFUSED_BY_A_LIMIT = "refused_by_a_limit"


class DynamoRateThrottle(SimpleRateThrottle):
    # Set by SimpleRateThrottle.__init__ from parse_rate; read only once ``rate`` is set.
    num_requests: int
    duration: int
    # A count shared by everyone behind an address gives back a request refused for its
    # input (a body that is no JSON, fails its serializer, ...), which DRF counts before
    # the view reads the body: one write more, on that path only. Left False where a 400
    # can also answer a guess (a wrong current password is a 400 for the field), or
    # where the count is one account's or one mailbox's.
    gives_back_refused_input = False

    def get_rate(self) -> str | None:
        # Read at use, not at import, so a changed setting takes effect.
        rates = cast(dict[str | None, str | None], api_settings.DEFAULT_THROTTLE_RATES)
        return rates.get(self.scope)

    def get_ident(self, request) -> str:
        return client_address(request)

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def counters(self, request, view) -> list[tuple[str, int]]:
        """The counters ``request`` is counted on, narrowest first, each with the hits it
        allows in a window: the cache key's, and for an IPv6 client counted by its /64
        its /56's and /48's too, at multiples of the rate (``addresses.wider_networks``)."""
        key = self.get_cache_key(request, view)
        if key is None:
            return []
        prefix = f"{settings.RATE_LIMIT_NAMESPACE}#"
        ident = key.removeprefix(self.cache_format % {"scope": self.scope, "ident": ""})
        counters = [(prefix + key, self.num_requests)]
        for wider in wider_networks(ident):
            wider_key = self.cache_format % {"scope": self.scope, "ident": wider.network}
            counters.append((prefix + wider_key, self.num_requests * wider.factor))
        return counters

    def allow_request(self, request, view) -> bool:
        # DRF asks every limit of a view: a request one of them refused is not counted
        # on the others (an upload past its account's limit spent the address's AI work
        # of unverified accounts, which the people behind that address share).
        if self.rate is None or getattr(request, REFUSED_BY_A_LIMIT, False):
            return True
        counters = self.counters(request, view)
        if not counters:
            return True
        self.now = int(self.timer())
        spent: list[SpentCount] = []
        allowed = True
        for counter, allowance in counters:
            count = limits_table().count_in_window(counter, seconds=self.duration, now=self.now)
            self.window_ends_at = count.window_ends_at
            spent.append(SpentCount(counter, self.duration, self.now))
            # Refused by a narrower network: not counted on the wider one, which the
            # client's neighbours share.
            allowed = count.hits <= allowance
            if not allowed:
                break
        setattr(request, REFUSED_BY_A_LIMIT, not allowed)
        if allowed and self.gives_back_refused_input:
            on_error(request, lambda exc, status_code: self.settle(spent, exc, status_code))
        return allowed

    def wait(self) -> float:
        return max(1, self.window_ends_at - self.now)

    def gives_back(self, exc: Exception, status_code: int) -> bool:
        """Whether a request this limit counted and let through, answered with ``exc``,
        spent nothing of it: one refused for its input (``refused_for_input``)."""
        return refused_for_input(exc)

    def settle(self, spent: list["SpentCount"], exc: Exception, status_code: int) -> None:
        if not self.gives_back(exc, status_code):
            return
        try:
            for count in spent:
                limits_table().give_back_in_window(
                    count.counter, seconds=count.seconds, now=count.counted_at
                )
        except DynamoError as err:
            # The answer stands: a count not given back is one request counted too many.
            logger.warning("rate count not given back", extra={"cause": type(err).__name__})


@dataclass(frozen=True, slots=True)
class SpentCount:
    """One request a limit counted: its counter, the window's length and when."""

    counter: str
    seconds: int
    counted_at: int


# Refusals for what a request sent, made before anything is stored or sent (DRF checks a
# view's limits before the view reads its body): a body that is no JSON or not of the
# type the endpoint reads, too large, or that its serializer (or the use case's own
# check of a new password) refuses.
INPUT_REFUSALS = (
    exceptions.ParseError,
    exceptions.UnsupportedMediaType,
    exceptions.ValidationError,
    RequestDataTooBig,
)


def refused_for_input(exc: Exception) -> bool:
    """Whether ``exc`` refused a request for its input: 400s that name what was wrong
    with the body or a header, 413 and 415. A link's token found not valid is no such
    refusal (``invalid_token``): it is what the token limit brakes."""
    return isinstance(exc, INPUT_REFUSALS)


def account_ident(user_id: str) -> str:
    """An account as a counter's id names it: a keyed digest of its id, not the id, so an
    erased account leaves no item that names it, only counters that expire."""
    digest = salted_hmac("dermalens.throttles", user_id, algorithm="sha256")
    return f"account-{digest.hexdigest()}"


class SessionProofThrottle(DynamoRateThrottle):
    """A request that proves an earlier session of the account it acts on (a token that
    only that account's sessions were given) is counted on that account at the
    ``session`` rate; any other on the client address at its scope's.

    A per-address rate is spent by whoever is behind the address, with well-formed
    requests or not: one attacker behind a campus's address would otherwise keep its
    hundreds of people from refreshing their sessions or signing in again on their own
    devices. A proof names one account, so spending its allowance needs that account's
    tokens; what a proof lets through is still checked in full (the refresh token's
    rotation, the device's account and lockout, the password).
    """

    proven_user_id: str | None = None

    def proven_account(self, request) -> str | None:
        """The account the request proves an earlier session of, or None."""
        raise NotImplementedError("a SessionProofThrottle says which token proves a session")

    def allow_request(self, request, view) -> bool:
        self.proven_user_id = self.proven_account(request)
        if self.proven_user_id is not None:
            self.scope = "session"
            self.rate = self.get_rate()
            num_requests, duration = self.parse_rate(self.rate)
            if num_requests is None or duration is None:
                return True  # no session rate set: not limited, as any unset rate
            self.num_requests, self.duration = num_requests, duration
        return super().allow_request(request, view)

    def get_ident(self, request) -> str:
        if self.proven_user_id is not None:
            return account_ident(self.proven_user_id)
        return super().get_ident(request)


class LoginThrottle(SessionProofThrottle):
    """Logins per address; a login with a device token of the account it names per that
    account (a token of another account, or one from before the account's sessions all
    ended, leaves it on the address)."""

    scope = "login"
    gives_back_refused_input = True

    def proven_account(self, request) -> str | None:
        device = device_of_named_account(request, LoginSerializer)
        return device.user_id if device is not None else None


class RegisterThrottle(DynamoRateThrottle):
    scope = "register"
    gives_back_refused_input = True


class TokenThrottle(SessionProofThrottle):
    """A link's token used (a reset, a verification, an email change), per address; a
    token that is one of the links we mailed (``account_of_link``) per its account
    instead, at the ``session`` rate. A token found not valid is counted on the address:
    this brakes guessing them, and whoever spends the address's allowance with made-up
    tokens does not keep the people behind it from the links in their mail."""

    scope = "token"
    gives_back_refused_input = True

    def proven_account(self, request) -> str | None:
        return account_of_link(request, link_token(request))


def link_token(request) -> str:
    """The link's token a request sends: in the API's body, or in a page's form (the
    pages hand their Django request)."""
    token = text_in_body(request, "token")
    if token is None and isinstance(request, HttpRequest) and request.method == "POST":
        token = request.POST.get("token")
    return (token or "")[:LINK_TOKEN_MAX_LENGTH]


def account_of_link(request, token: str) -> str | None:
    """The account whose link ``token`` is, or None: a verification or change link whose
    signature holds and has not expired (no read), or a reset link that matches its
    account as it is now (one strongly consistent read of the account its token names:
    the token is an HMAC over the account's state). Only a link we mailed passes, so
    only the mailbox's holder spends an account's count; the use case still checks the
    link in full (an old address's link, a used one), with the account read here
    (``account_read_now``) rather than reading it again."""
    link = read_email_link(token)
    if link is not None:
        return link.user_id
    user_id = password_reset_user_id(token)
    if user_id is None:
        return None
    user = users_table().get(user_id)
    if user is None:
        return None
    setattr(request, ACCOUNT_READ_NOW, user)
    return user_id if password_reset_token_valid(user, token) else None


class RefreshThrottle(SessionProofThrottle):
    """Refreshes per address; a refresh with a validly signed refresh token of the
    account's current sessions (issued since they last all ended) per that account."""

    scope = "token"
    gives_back_refused_input = True

    def proven_account(self, request) -> str | None:
        token = read_refresh_token(text_in_body(request, "refresh") or "")
        user_id = token.get("sub") if token is not None else None
        if token is None or not isinstance(user_id, str):
            return None
        return user_id if proves_session(request, user_id, token.get(VERSION_CLAIM)) else None


class AccountRateThrottle(DynamoRateThrottle):
    """Counted per signed-in account (the address for an anonymous caller)."""

    def get_ident(self, request) -> str:
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return account_ident(user.user_id)
        return client_address(request)


class SignedInPasswordThrottle(AccountRateThrottle):
    """A password confirming a signed-in change (a new password, a new address, the
    erasure), at the login's rate per account: never per address, where a stranger's
    flood of sign-ins would keep the owner from it. Guesses are also counted by
    ``services.confirm_password``, on the account."""

    scope = "login"


class ExportThrottle(AccountRateThrottle):
    """Exports per account: each streams every stored image of the account."""

    scope = "export"


class ChatSessionThrottle(AccountRateThrottle):
    """Chat sessions started and deleted per account: each start stores a session, each
    delete of another session queues a job on the queue every account shares."""

    scope = "chat_sessions"


class PlanThrottle(AccountRateThrottle):
    """Plans created per account: each runs the rule engine (and may ask Gemini, within
    the day's drafts), writes the plan and archives the one before, which is kept."""

    scope = "plans"


class PasswordResetThrottle(SessionProofThrottle):
    """Reset requests (anonymous), per client address: a flood brake as generous as the
    registration limit, since the people behind one address each may forget a password.
    Each mailbox has its own, tighter limit (``EmailAddressThrottle``).

    A request from a current device of the account that has the address (its
    ``device_token``, ``device_of_named_account``) is counted on that account instead, as
    a login from it is: whoever floods the address does not keep the owner's phone from
    a link. Another account's token, or an old phone's, proves nothing and is counted on
    the address.
    """

    scope = "password_reset"
    gives_back_refused_input = True

    def proven_account(self, request) -> str | None:
        device = device_of_named_account(request, PasswordResetRequestSerializer)
        return device.user_id if device is not None else None


class AccountEmailThrottle(AccountRateThrottle):
    """Requests of a signed-in account that send email (a verification link again, an
    email change's confirmation), per account: never per address, which many people may
    share, and whatever addresses an account names or asks from."""

    scope = "account_email"


class EmailAddressThrottle(DynamoRateThrottle):
    """The same requests counted per email address they would write to, whoever asks, so
    that no mailbox can be flooded from many addresses. The address is counted whether or
    not an account has it (the answer must not tell), as its inbox (``emails.inbox_of``:
    its ``+tag`` spellings are one), and only as a keyed digest: the counters never hold
    an address.
    """

    scope = "account_email_address"
    # The body field that holds the address; None: the signed-in account's own address.
    email_field: str | None = "email"

    def get_cache_key(self, request, view) -> str | None:
        email = self.email_of(request)
        if not email:
            return None
        inbox = email_digest(inbox_of(email))
        return self.cache_format % {"scope": self.scope, "ident": inbox}

    def email_of(self, request) -> str | None:
        if self.email_field is None:
            return getattr(request.user, "email", None)
        value = text_in_body(request, self.email_field)
        return normalize_email(value) if value is not None else None


class ResetEmailAddressThrottle(EmailAddressThrottle):
    """Reset requests per email address, except those from a device that signed in to the
    account with that address (its ``device_token``), which are counted on the device.

    Anyone may ask for a stranger's address: without this, a stranger's five requests an
    hour would leave the owner, locked out and asking from their own phone, no link. The
    device must be a current device of the account that has the address
    (``device_of_named_account``), so a stranger's own device token, or one of an old
    phone from before the account's sessions all ended, counts on the mailbox as any
    other request, and the answer is the same 202 either way.
    """

    def get_cache_key(self, request, view) -> str | None:
        device = device_of_named_account(request, PasswordResetRequestSerializer)
        if device is None:
            return super().get_cache_key(request, view)
        digest = salted_hmac("dermalens.throttles", device.lockout_subject, algorithm="sha256")
        return self.cache_format % {"scope": self.scope, "ident": f"device-{digest.hexdigest()}"}


class NewEmailAddressThrottle(EmailAddressThrottle):
    email_field = "new_email"


class OwnEmailAddressThrottle(EmailAddressThrottle):
    email_field = None


class VerifyEmailForAI(ApplicationError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "verify_email_for_ai"
    default_message = (
        "Accounts without a verified email address have used today's AI work from this "
        "network; verify your address (the link we emailed you) to go on."
    )

    def __init__(self, *, retry_after_seconds: int):
        super().__init__(details={"retry_after_seconds": retry_after_seconds})
        self.retry_after_seconds = retry_after_seconds


class UnverifiedAIThrottle(DynamoRateThrottle):
    """AI work (an analysed upload, a drafted plan, an assistant reply) asked for by
    accounts whose email address is not verified, counted per client address.

    Registration is generous per address (hundreds of people share one), and each new
    account has the day's full AI allowances: without this, one address could make three
    hundred accounts an hour and have Gemini answer each of them some eighty times a day.
    A verified address costs a mailbox that receives our link, so verified accounts are
    never counted here, and people who share an address with a flood keep their AI work.
    Past the rate, a 429 ``verify_email_for_ai`` says what to do.

    A request answered before any AI work gives its count back (``asks_no_ai_work``):
    otherwise one account's messages refused for their content, or sent past its own
    day's replies, would spend the AI work of everyone behind the address. One that
    began an AI call keeps its count whatever its answer (a 404 for a session deleted
    while the assistant replied is AI work done).
    """

    scope = "ai_unverified"
    gives_back_refused_input = True
    # The AI calls the request began (``telemetry.record.watch_ai_calls``).
    ai_calls: list[str] | None = None

    def gives_back(self, exc: Exception, status_code: int) -> bool:
        if self.ai_calls:
            return False
        return super().gives_back(exc, status_code) or asks_no_ai_work(exc, status_code)

    def get_cache_key(self, request, view) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not getattr(user, "is_authenticated", False) or user.email_verified:
            return None
        return super().get_cache_key(request, view)

    def allow_request(self, request, view) -> bool:
        self.ai_calls = watch_ai_calls()
        if super().allow_request(request, view):
            return True
        if verified_since_read(request):
            setattr(request, REFUSED_BY_A_LIMIT, False)
            return True
        raise VerifyEmailForAI(retry_after_seconds=int(self.wait()))


def asks_no_ai_work(exc: Exception, status_code: int) -> bool:
    """Whether an answer refused AI work before asking for it: the session or scan the
    URL names is not there (404), the account's own allowance of the day is used up or
    another limit refused it (429), or the Idempotency-Key's first request is the one
    asking (409 ``idempotency_key_in_flight``, 422 ``idempotency_key_reused``). A
    message the assistant refused (422 ``message_refused``) was asked, and is counted."""
    return status_code in (404, 429) or isinstance(
        exc, IdempotencyKeyInFlight | IdempotencyKeyReused
    )


def verified_since_read(request) -> bool:
    """Whether the request's account has verified its address since the worker's copy of
    it was read (up to AUTH_USER_CACHE_SECONDS ago): the link is often followed through
    another worker, or host, a moment before the person goes back to the app. Read again
    (strongly consistent, and kept as the worker's copy) only for a request about to be
    refused, and not when authentication read it in this request."""
    if read_in_this_request(request):
        return False
    stored, _ = users_table().read_again(
        request.user.user_id, max_age=settings.AUTH_USER_CACHE_SECONDS
    )
    return stored is not None and stored.email_verified
