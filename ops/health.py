"""Health endpoints for load balancers and orchestrators.

``/api/v1/health`` says the process answers; ``/api/v1/health/ready`` says it can serve
(DynamoDB answers and every table is ACTIVE), and is a 503 with the reason otherwise.

Readiness takes a DescribeTable per table, all at once, and answers within
2 x DYNAMODB_STATUS_TIMEOUT_SECONDS (2 s by default) whatever DynamoDB does
(``dynamo.status``). The endpoint is public (load balancers send no token), so a worker
keeps its answer: a ready one for READY_CACHE_SECONDS, a not-ready one for
NOT_READY_CACHE_SECONDS (short, so a recovery shows at once), and probes that come
while the tables are being described wait for that answer rather than describe them
again. However often it is asked, a worker describes the tables at most once in that
time, so a flood of probes during an incident cannot pile up calls to DynamoDB.
"""

import threading
from typing import Any

from django.core.cache import cache
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dermalens_site.errors import accounted_for
from dynamo.status import describe_tables

READINESS_STATUSES = ("ready", "not_ready")
READY_CACHE_SECONDS = 5
NOT_READY_CACHE_SECONDS = 1
NOT_READY_RETRY_AFTER_SECONDS = 5
READY_CACHE_KEY = "health:ready"
HealthSerializer = inline_serializer("Health", {"status": serializers.CharField()})
ReadinessSerializer = inline_serializer(
    "Readiness",
    {
        "status": serializers.ChoiceField(READINESS_STATUSES),
        "tables": serializers.DictField(child=serializers.CharField()),
    },
)

# Held while a worker describes its tables (a greenlet's lock in a gevent worker, made
# after the fork: the app is not preloaded).
_describing = threading.Lock()


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: HealthSerializer}, auth=[])
    def get(self, request):
        return Response({"status": "ok"})


class ReadinessView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: ReadinessSerializer, 503: ReadinessSerializer}, auth=[])
    def get(self, request):
        body = readiness()
        if body["status"] != "ready":
            return accounted_for(
                Response(
                    body,
                    status=status.HTTP_503_SERVICE_UNAVAILABLE,
                    headers={"Retry-After": str(NOT_READY_RETRY_AFTER_SECONDS)},
                )
            )
        return Response(body)


def readiness() -> dict[str, Any]:
    """The worker's kept answer, or a new one (one probe at a time describes the tables)."""
    body = cache.get(READY_CACHE_KEY)
    if body is not None:
        return body
    with _describing:
        body = cache.get(READY_CACHE_KEY)  # described while this probe waited
        if body is None:
            tables = describe_tables()
            ready = all(table.ready for table in tables)
            body = {
                "status": "ready" if ready else "not_ready",
                "tables": {table.name: table.status for table in tables},
            }
            kept = READY_CACHE_SECONDS if ready else NOT_READY_CACHE_SECONDS
            cache.set(READY_CACHE_KEY, body, kept)
    return body
