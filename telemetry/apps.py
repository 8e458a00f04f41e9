from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "telemetry"

    def ready(self) -> None:
        # Before the WSGI handler loads its middleware, so Django's instrumentation
        # can add its own; each gunicorn worker runs this after the fork.
        from telemetry import sdk

        if sdk.requested():
            sdk.start()
