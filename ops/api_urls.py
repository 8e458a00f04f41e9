"""API routes owned by ops: health and readiness."""

from django.urls import path

from ops.health import HealthView, ReadinessView

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("health/ready", ReadinessView.as_view(), name="health-ready"),
]
