"""Health endpoints for load balancers and orchestrators.

``/api/v1/health`` says the process answers; ``/api/v1/health/ready`` says it can serve
(DynamoDB answers and every table is ACTIVE), and is a 503 with the reason otherwise.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dynamo.status import describe_tables

READINESS_STATUSES = ("ready", "not_ready")
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
        tables = describe_tables()
        ready = all(table.ready for table in tables)
        body = {
            "status": "ready" if ready else "not_ready",
            "tables": {table.name: table.status for table in tables},
        }
        code = status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE
        headers = {} if ready else {"Retry-After": "5"}
        return Response(body, status=code, headers=headers)
