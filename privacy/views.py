"""Privacy endpoints: GET /api/v1/users/me/export (the erasure is DELETE /users/me,
mapped on the accounts' ``me`` action so that one path has one view).
"""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.views import APIView

from dermalens_site.serializers import ErrorSerializer
from privacy import services


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
            503: ErrorSerializer,
        },
        description="Everything the service holds about you, as one download (streamed).",
    )
    def get(self, request):
        chunks = services.export_account(user_id=request.user.user_id)
        response = StreamingHttpResponse(chunks, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{services.export_filename()}"'
        response["Cache-Control"] = "no-store"
        return response
