"""Job endpoint: GET /api/v1/jobs/{job_id}, the caller's own jobs only."""

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.response import Response

from dermalens_site.errors import NotFound
from dermalens_site.serializers import ERROR_RESPONSES
from jobs import selectors
from jobs.serializers import JobSerializer

# Job ids are ULIDs; anything else is a 404 before any lookup.
ULID_PATTERN = "[0-9A-HJKMNP-TV-Z]{26}"


class JobNotFound(NotFound):
    default_message = "Job not found."


class JobViewSet(viewsets.ViewSet):
    lookup_field = "job_id"
    lookup_value_regex = ULID_PATTERN

    @extend_schema(
        responses={200: JobSerializer, **ERROR_RESPONSES},
        description=(
            "Where a job you started is (deleting a chat session, ...): `queued`, "
            "`running` with `done_items` so far, `done` or `failed`. Kept for 7 days."
        ),
    )
    def retrieve(self, request, job_id: str):
        job = selectors.get_job(user_id=request.user.user_id, job_id=job_id)
        if job is None:
            raise JobNotFound()
        return Response(JobSerializer(job).data)
