"""Telemetry: OpenTelemetry traces and metrics, off unless an ``OTEL_*`` exporter is set.

    from telemetry import record
    record.upload_received(size_bytes=len(data), area="face")

``catalogue`` names every metric (also read by the CloudWatch alarms and dashboard),
``record`` is what the code calls, ``sdk`` turns OpenTelemetry on, ``logs`` puts the
trace id on log lines.
"""
