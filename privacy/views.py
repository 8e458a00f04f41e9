"""Privacy endpoints: GET /api/v1/users/me/export and DELETE /api/v1/users/me.

The erasure shares its path with the accounts' profile (GET and PATCH /users/me): each
app routes its own methods, and the root urlconf hands each request to the view of its
method (``dermalens_site.routing.shared_path``), so that accounts knows nothing of
privacy.
"""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.throttles import ExportThrottle, SignedInPasswordThrottle
from dermalens_site.serializers import ErrorSerializer
from privacy import services
from privacy.serializers import (
    ERASURE_ACCEPTED,
    AccountErasureSerializer,
    ErasureAcceptedSerializer,
)

ERASURE_ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    429: ErrorSerializer,
    503: ErrorSerializer,
}


class JsonErrorsNegotiation(BaseContentNegotiation):
    """The export is a zip whatever ``Accept`` says, and its errors are JSON.

    The default negotiation would refuse ``Accept: application/zip`` (406), since the
    API's only renderer is JSON; the archive itself bypasses renderers.
    """

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class AccountExportView(APIView):
    content_negotiation_class = JsonErrorsNegotiation
    throttle_classes = [ExportThrottle]

    @extend_schema(
        operation_id="users_me_export",
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description=(
                    "A zip archive: `dermalens-export.json` (profile, scans with analyses, "
                    "plans, check-ins, chat sessions and messages) and every stored image "
                    "under `images/<scan_id>/`."
                ),
            ),
            401: ErrorSerializer,
            429: ErrorSerializer,
            503: ErrorSerializer,
        },
        description=(
            "Everything the service holds about you, as one download (streamed); "
            "`THROTTLE_EXPORT_RATE` (10 an hour) per account."
        ),
    )
    def get(self, request):
        chunks = services.export_account(user_id=request.user.user_id)
        response = StreamingHttpResponse(chunks, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{services.export_filename()}"'
        response["Cache-Control"] = "no-store"
        return response


class AccountErasureView(APIView):
    @extend_schema(
        operation_id="users_me_destroy",
        request=AccountErasureSerializer,
        responses={202: ErasureAcceptedSerializer, **ERASURE_ERRORS},
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
    def delete(self, request):
        # The password is a second factor here: guessing it is limited like a login,
        # per account (this throttle, and ``confirm_password``).
        throttle = SignedInPasswordThrottle()
        if not throttle.allow_request(request, self):
            self.throttled(request, throttle.wait())
        serializer = AccountErasureSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.erase_own_account(user=request.user, **serializer.validated_data)
        return Response(ERASURE_ACCEPTED, status=status.HTTP_202_ACCEPTED)
