"""Account endpoints: /api/v1/auth/* and /api/v1/users/me."""

import re

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import selectors, services
from accounts.addresses import client_address
from accounts.authentication import read_in_this_request
from accounts.devices import issue_device_token
from accounts.serializers import (
    AcceptedSerializer,
    AuthSessionSerializer,
    EmailChangeSerializer,
    EmailLinkSerializer,
    EmailStatusSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    ProfileUpdateSerializer,
    RefreshSerializer,
    RegisterSerializer,
    UserSerializer,
)
from accounts.throttles import (
    AccountEmailThrottle,
    LoginThrottle,
    NewEmailAddressThrottle,
    OwnEmailAddressThrottle,
    PasswordResetThrottle,
    RefreshThrottle,
    RegisterThrottle,
    ResetEmailAddressThrottle,
    SignedInPasswordThrottle,
    TokenThrottle,
    account_read_now,
)
from dermalens_site.errors import ApplicationError
from dermalens_site.serializers import MAX_VERSION, ErrorSerializer, refuse_fields

ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    429: ErrorSerializer,
    503: ErrorSerializer,
}


RESET_REQUESTED = (
    "If an account has this email address, a link to reset its password is on its way."
)
VERIFICATION_SENT = "A new verification link is on its way to the account's email address."
EMAIL_CHANGE_SENT = (
    "A confirmation link is on its way to the new address; the account keeps its current "
    "address until the link is used."
)


class ResetLinksAlreadyAsked(Throttled):
    """The email address's reset requests of the hour are spent (``ResetEmailAddressThrottle``):
    said so that it helps, and alike whether or not an account has the address."""

    extra_detail_singular = extra_detail_plural = "You can ask again in {wait} seconds."

    def __init__(self, wait: float | None = None):
        super().__init__(
            wait,
            detail=(
                "Reset links were already asked for this email address in the last hour, as "
                "many as we send. If an account has this address, they are in its inbox "
                "(look in the spam folder too); each link works for "
                f"{settings.PASSWORD_RESET_TOKEN_MINUTES} minutes."
            ),
        )


class ResetRequestsFromNetwork(Throttled):
    """The client address's reset requests of the hour are spent (``PasswordResetThrottle``)."""

    default_detail = "Too many reset requests from your network this hour."
    extra_detail_singular = extra_detail_plural = "You can ask again in {wait} seconds."


# The email address's limit first: a flood at one email, refused there, is not counted
# on the address the people behind it share (also the reset page's, ``accounts.pages``).
RESET_REQUEST_THROTTLES = [ResetEmailAddressThrottle, PasswordResetThrottle]

# A refusal in the words of the limit that refused, where DRF's "Request was throttled"
# tells a person nothing they can act on.
THROTTLE_REFUSALS: dict[type, type[Throttled]] = {
    ResetEmailAddressThrottle: ResetLinksAlreadyAsked,
    PasswordResetThrottle: ResetRequestsFromNetwork,
}


def first_refusal(throttles, request, view) -> Throttled | None:
    """The refusal of the first of ``throttles`` that refuses ``request``, in the words of
    that limit (``THROTTLE_REFUSALS``); None when every one allows it. A limit after one
    that refused counts nothing (``REFUSED_BY_A_LIMIT``), so stopping there changes no
    count."""
    for throttle in throttles:
        if not throttle.allow_request(request, view):
            return THROTTLE_REFUSALS.get(type(throttle), Throttled)(wait=throttle.wait())
    return None


def accepted(detail: str) -> Response:
    return Response(AcceptedSerializer({"detail": detail}).data, status=status.HTTP_202_ACCEPTED)


def session_response(user, tokens, status_code=status.HTTP_200_OK) -> Response:
    body = {
        "access": tokens.access,
        "refresh": tokens.refresh,
        "user": user,
        "device_token": issue_device_token(user),
    }
    return Response(AuthSessionSerializer(body).data, status=status_code)


class PublicAuthViewSet(viewsets.ViewSet):
    """Register, log in and refresh: open to anonymous callers, throttled per address
    (per account for a login or refresh that proves an earlier session).

    Failed logins are limited per account and per address too, inside ``services.log_in``.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def check_throttles(self, request) -> None:
        # As DRF's, but raising the refusal of the limit that refused (``first_refusal``).
        refusal = first_refusal(self.get_throttles(), request, self)
        if refusal is not None:
            raise refusal

    @extend_schema(
        request=RegisterSerializer,
        responses={201: AuthSessionSerializer, 409: ErrorSerializer, **ERRORS},
        auth=[],
    )
    @action(detail=False, methods=["post"], throttle_classes=[RegisterThrottle])
    def register(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, tokens = services.register_user(**serializer.validated_data)
        return session_response(user, tokens, status.HTTP_201_CREATED)

    @extend_schema(
        request=LoginSerializer, responses={200: AuthSessionSerializer, **ERRORS}, auth=[]
    )
    @action(detail=False, methods=["post"], throttle_classes=[LoginThrottle])
    def login(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, tokens = services.log_in(
            **serializer.validated_data,
            address=client_address(request),
            account=account_read_now(request),
        )
        return session_response(user, tokens)

    @extend_schema(
        request=RefreshSerializer,
        responses={200: AuthSessionSerializer, **ERRORS},
        auth=[],
        description=(
            "Trade a refresh token for a new pair. The old refresh token is used up: "
            "presented again, it is refused and every session of the account ends. Where "
            "the service sets `REFRESH_RETRY_SECONDS`, it gets the same pair again within "
            "that many seconds of the trade while the new refresh token is unused (an "
            "answer lost on the way, refreshes sent at once)."
        ),
    )
    @action(detail=False, methods=["post"], throttle_classes=[RefreshThrottle])
    def refresh(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, tokens = services.refresh_session(
            **serializer.validated_data, account=account_read_now(request)
        )
        return session_response(user, tokens)

    @extend_schema(
        request=PasswordResetRequestSerializer,
        responses={202: AcceptedSerializer, **ERRORS},
        auth=[],
        description=(
            "Email a link to reset the password (`PASSWORD_RESET_URL?token=...`). The answer "
            "is the same whether or not an account has the address. Limited per client "
            "address and per email address (per device and its account instead, with a "
            "`device_token` of the account that has the address)."
        ),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="password/reset",
        throttle_classes=RESET_REQUEST_THROTTLES,
    )
    def password_reset(self, request):
        serializer = PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.request_password_reset(
            email=serializer.validated_data["email"], account=account_read_now(request)
        )
        return accepted(RESET_REQUESTED)

    @extend_schema(
        request=PasswordResetConfirmSerializer,
        responses={200: AuthSessionSerializer, **ERRORS},
        auth=[],
        description=(
            "Set a new password with the token of a reset link. Every session of the "
            "account ends; the answer holds a fresh pair. A tampered, expired, used or "
            "outdated token is a 400 `invalid_token`."
        ),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="password/reset/confirm",
        throttle_classes=[TokenThrottle],
    )
    def password_reset_confirm(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, tokens = services.reset_password(
            **serializer.validated_data, account=account_read_now(request)
        )
        return session_response(user, tokens)

    @extend_schema(
        request=EmailLinkSerializer,
        responses={200: EmailStatusSerializer, 409: ErrorSerializer, **ERRORS},
        auth=[],
        description=(
            "Use the token of an emailed link: a verification link marks the address "
            "verified; an email-change link moves the account to the new address (409 "
            "`email_taken` if another account took it meanwhile). A tampered, expired or "
            "outdated token is a 400 `invalid_token`."
        ),
    )
    @action(
        detail=False, methods=["post"], url_path="email/verify", throttle_classes=[TokenThrottle]
    )
    def email_verify(self, request):
        serializer = EmailLinkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.use_email_link(**serializer.validated_data)
        return Response(EmailStatusSerializer(user).data)


class SessionViewSet(viewsets.ViewSet):
    """Log out and change password: for a signed-in caller."""

    @extend_schema(
        request=RefreshSerializer,
        responses={204: OpenApiResponse(description="Logged out."), **ERRORS},
        description=(
            "Revoke the given refresh token (this device's session). A refresh token "
            "already traded for a new pair ends every session of the account."
        ),
    )
    @action(detail=False, methods=["post"])
    def logout(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.log_out(user_id=request.user.user_id, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=PasswordChangeSerializer,
        responses={200: AuthSessionSerializer, **ERRORS},
        description=(
            "Change the password. Every token issued before stops working; the response "
            "holds a fresh pair for this device."
        ),
    )
    @action(detail=False, methods=["post"], throttle_classes=[SignedInPasswordThrottle])
    def password(self, request):
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, tokens = services.change_password(user=request.user, **serializer.validated_data)
        return session_response(user, tokens)

    @extend_schema(
        request=None,
        responses={202: AcceptedSerializer, 409: ErrorSerializer, **ERRORS},
        description=(
            "Send a new verification link to the account's address (409 "
            "`email_already_verified` once it is verified). Limited."
        ),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="email/verify/resend",
        throttle_classes=[AccountEmailThrottle, OwnEmailAddressThrottle],
    )
    def email_verify_resend(self, request):
        refuse_fields(request.data)
        services.resend_verification_link(user_id=request.user.user_id)
        return accepted(VERIFICATION_SENT)


class InvalidIfMatch(ApplicationError):
    default_code = "invalid_if_match"
    default_message = 'If-Match must be a version the API returned, such as "3".'


IF_MATCH_VERSION = re.compile(f"[0-9]{{1,{len(str(MAX_VERSION))}}}")


def parse_if_match(header: str | None) -> int | None:
    """The version named by an If-Match header ("3", W/"3" or 3); None when absent or *."""
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    # ASCII digits only (str.isdigit() also takes "²" and "٣"), as many as a version has.
    if not IF_MATCH_VERSION.fullmatch(value):
        raise InvalidIfMatch()
    return int(value)


def profile_response(user) -> Response:
    return Response(UserSerializer(user).data, headers={"ETag": f'"{user.version}"'})


class UserViewSet(viewsets.ViewSet):
    @extend_schema(responses={200: UserSerializer, **ERRORS})
    @action(detail=False, methods=["get"])
    def me(self, request):
        # Read again, strongly consistent, unless authentication just did: it may have
        # used this worker's copy, older than a change made through another worker a
        # moment ago.
        if read_in_this_request(request):
            user = request.user
        else:
            user = selectors.get_user(user_id=request.user.user_id)
        if user is None:
            raise AuthenticationFailed("The account is disabled or gone.", code="user_inactive")
        return profile_response(user)

    @extend_schema(
        request=ProfileUpdateSerializer,
        responses={200: UserSerializer, 412: ErrorSerializer, **ERRORS},
        parameters=[
            OpenApiParameter(
                "If-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description='Optional: the profile version ("3"); a stale one is a 412.',
            )
        ],
    )
    @me.mapping.patch
    def update_me(self, request):
        serializer = ProfileUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.update_profile(
            user_id=request.user.user_id,
            changes=serializer.validated_data,
            expected_version=parse_if_match(request.headers.get("If-Match")),
        )
        return profile_response(user)

    @extend_schema(
        request=EmailChangeSerializer,
        responses={202: AcceptedSerializer, 409: ErrorSerializer, **ERRORS},
        description=(
            "Ask to move the account to `new_email` (the current password confirms it): a "
            "confirmation link goes to the new address, a notice to the current one. The "
            "change happens when the link is used (`POST /auth/email/verify`)."
        ),
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="me/email",
        throttle_classes=[SignedInPasswordThrottle, AccountEmailThrottle, NewEmailAddressThrottle],
    )
    def change_email(self, request):
        serializer = EmailChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.request_email_change(user=request.user, **serializer.validated_data)
        return accepted(EMAIL_CHANGE_SENT)
