"""Health endpoints for load balancers and orchestrators.

``/api/v1/health`` says the process answers; ``/api/v1/health/ready`` says it can serve
(DynamoDB answers and every table is ACTIVE), and is a 503 with the reason otherwise.

Readiness takes a DescribeTable per table. The endpoint is public (load balancers send
no token), so a ready answer is kept by the worker for READY_CACHE_SECONDS: however often
it is asked, a worker describes the tables at most once in that time. A not-ready answer
is not kept, so the recovery shows at the next check.
"""

from django.core.cache import cache
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dynamo.status import describe_tables

READINESS_STATUSES = ("ready", "not_ready")
READY_CACHE_SECONDS = 5
READY_CACHE_KEY = "health:ready"
HealthSerializer = inline_serializer("Health", {"status": serializers.CharField()})
ReadinessSerializer = inline_serializer(
    "Readiness",
    {
        "status": serializers.ChoiceField(READINESS_STATUSES),
        "tables": serializers.DictField(child=serializers.CharField()),
    },
)


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
        body = cache.get(READY_CACHE_KEY)
        if body is not None:
            return Response(body)
        tables = describe_tables()
        ready = all(table.ready for table in tables)
        body = {
            "status": "ready" if ready else "not_ready",
            "tables": {table.name: table.status for table in tables},
        }
        if not ready:
            return Response(
                body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"}
            )
        cache.set(READY_CACHE_KEY, body, READY_CACHE_SECONDS)
        return Response(body)
