"""Account endpoints: /api/v1/auth/* and /api/v1/users/me."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import selectors, services
from accounts.serializers import (
    AuthSessionSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    ProfileUpdateSerializer,
    RefreshSerializer,
    RegisterSerializer,
    UserSerializer,
)
from accounts.throttles import LoginThrottle, RegisterThrottle, TokenThrottle
from dermalens_site.errors import ApplicationError
from dermalens_site.serializers import ErrorSerializer
from privacy.serializers import (
    ERASURE_ACCEPTED,
    AccountErasureSerializer,
    ErasureAcceptedSerializer,
)
from privacy.services import erase_own_account

ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    429: ErrorSerializer,
    503: ErrorSerializer,
}


def session_response(user, tokens, status_code=status.HTTP_200_OK) -> Response:
    body = {"access": tokens.access, "refresh": tokens.refresh, "user": user}
    return Response(AuthSessionSerializer(body).data, status=status_code)


class PublicAuthViewSet(viewsets.ViewSet):
    """Register, log in and refresh: open to anonymous callers, throttled per address."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

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
        user, tokens = services.log_in(**serializer.validated_data)
        return session_response(user, tokens)

    @extend_schema(
        request=RefreshSerializer,
        responses={200: AuthSessionSerializer, **ERRORS},
        auth=[],
        description="Trade a refresh token for a new pair. The old refresh token is used up.",
    )
    @action(detail=False, methods=["post"], throttle_classes=[TokenThrottle])
    def refresh(self, request):
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, tokens = services.refresh_session(**serializer.validated_data)
        return session_response(user, tokens)


class SessionViewSet(viewsets.ViewSet):
    """Log out and change password: for a signed-in caller."""

    @extend_schema(
        request=RefreshSerializer,
        responses={204: OpenApiResponse(description="Logged out."), **ERRORS},
        description="Revoke the given refresh token (this device's session).",
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
    @action(detail=False, methods=["post"], throttle_classes=[LoginThrottle])
    def password(self, request):
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, tokens = services.change_password(user=request.user, **serializer.validated_data)
        return session_response(user, tokens)


class InvalidIfMatch(ApplicationError):
    default_code = "invalid_if_match"
    default_message = 'If-Match must be a version the API returned, such as "3".'


def parse_if_match(header: str | None) -> int | None:
    """The version named by an If-Match header ("3", W/"3" or 3); None when absent or *."""
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidIfMatch()
    return int(value)


def profile_response(user) -> Response:
    return Response(UserSerializer(user).data, headers={"ETag": f'"{user.version}"'})


class UserViewSet(viewsets.ViewSet):
    @extend_schema(responses={200: UserSerializer, **ERRORS})
    @action(detail=False, methods=["get"])
    def me(self, request):
        # Read again, strongly consistent: authentication may have used this worker's
        # copy, older than a change made through another worker a moment ago.
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
        request=AccountErasureSerializer,
        responses={202: ErasureAcceptedSerializer, **ERRORS},
        description=(
            "Erase the account and everything it holds: profile, scans, images, plans, "
            'check-ins and chat. The JSON body confirms it: `{"password": "<current '
            'password>"}`; a wrong one is a 400. The answer is 202: from that moment no '
            "token of the account works and login is refused; the erasure itself runs as "
            "a job and completes within minutes (there is no progress to follow: the "
            "account can no longer sign in), after which the email can be registered "
            "again. (OpenAPI 3.0 tools do not show a DELETE body, hence this note.)"
        ),
    )
    @me.mapping.delete
    def erase_me(self, request):
        # The password is a second factor here: guessing it is throttled like a login.
        throttle = LoginThrottle()
        if not throttle.allow_request(request, self):
            self.throttled(request, throttle.wait())
        serializer = AccountErasureSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        erase_own_account(user=request.user, **serializer.validated_data)
        return Response(ERASURE_ACCEPTED, status=status.HTTP_202_ACCEPTED)
