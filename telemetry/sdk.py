"""Turn OpenTelemetry on, from the standard ``OTEL_*`` environment variables only.

    OTEL_TRACES_EXPORTER=otlp OTEL_METRICS_EXPORTER=otlp gunicorn ...   # on AWS, to ADOT
    OTEL_TRACES_EXPORTER=console OTEL_METRICS_EXPORTER=console make run  # locally

Off by default, at no cost: unless ``OTEL_TRACES_EXPORTER`` or ``OTEL_METRICS_EXPORTER``
names an exporter (and ``OTEL_SDK_DISABLED`` is not ``true``), nothing of OpenTelemetry
is imported and no code is wrapped. (The SDK's own default exporter is ``otlp``;
DermaLens asks for it to be named, so a host without a collector sends nothing.) When on,
each process (gunicorn worker, ``analysis_worker``, command) gets its own providers,
after the fork: ``TelemetryConfig.ready`` calls ``start``.

What is instrumented: Django (a server span per request, by route), botocore (a client
span per DynamoDB, S3 and SQS call), threads (the context follows work handed to a
pool), each AI provider call (``telemetry.record.ai_call``), the analysis queue (trace
context in the message, a linked consumer span), the metrics of ``telemetry.catalogue``,
and log lines (``trace_id``, ``span_id``). Everything else comes from the SDK's own
variables: ``OTEL_SERVICE_NAME`` (default ``dermalens``),
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` (default
``http://localhost:4318``, the ADOT collector beside the app), ``OTEL_TRACES_SAMPLER``,
``OTEL_METRIC_EXPORT_INTERVAL``,
``OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`` (set it to
``base2_exponential_bucket_histogram`` for percentiles in CloudWatch).
"""

import os
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from telemetry import catalogue, record

EXPORTER_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER")
DEFAULT_SERVICE_NAME = "dermalens"
# Only the OTLP/HTTP exporter is installed (the gRPC one would add grpcio for nothing:
# the ADOT collector takes both); "otlp" means it unless a protocol is named.
DEFAULT_OTLP_PROTOCOL = "http/protobuf"

_instrumentors: list[Any] = []


def requested(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the environment names a trace or metric exporter and does not disable the SDK."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(
        environ.get(name, "").strip().lower() not in ("", "none") for name in EXPORTER_VARIABLES
    )


def exporter_names(variable: str) -> list[str]:
    names = [name.strip().lower() for name in os.environ.get(variable, "").split(",")]
    return [name for name in names if name and name != "none"]


def start(
    *, span_processors: list[Any] | None = None, metric_readers: list[Any] | None = None
) -> None:
    """Set up providers, instrument, and give ``telemetry.record`` its instruments.

    Without arguments the exporters come from the environment; tests pass in-memory
    ones. Calling it again while started does nothing.
    """
    if record.started():
        return
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    if span_processors is None and metric_readers is None:
        span_processors, metric_readers = processors_from_environment()
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME}
    )
    tracer_provider = TracerProvider(resource=resource)
    for processor in span_processors or []:
        tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(resource=resource, metric_readers=metric_readers or [])
    # The global providers are set once per process (the SDK refuses to replace them);
    # instrumentations get ours explicitly, so a second start in tests works too.
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    instrument(tracer_provider, meter_provider)
    record.install(
        make_instruments(meter_provider.get_meter(record.TRACER_NAME)),
        tracer_provider.get_tracer(record.TRACER_NAME),
    )


def processors_from_environment() -> tuple[list[Any], list[Any]]:
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        PeriodicExportingMetricReader,
    )
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    os.environ.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", DEFAULT_OTLP_PROTOCOL)
    span_processors = []
    for name in exporter_names("OTEL_TRACES_EXPORTER"):
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            span_processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            span_processors.append(BatchSpanProcessor(ConsoleSpanExporter()))
        else:
            raise ImproperlyConfigured(f"OTEL_TRACES_EXPORTER: use otlp or console, not {name!r}.")
    metric_readers = []
    for name in exporter_names("OTEL_METRICS_EXPORTER"):
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )

            metric_readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        elif name == "console":
            metric_readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
        else:
            raise ImproperlyConfigured(f"OTEL_METRICS_EXPORTER: use otlp or console, not {name!r}.")
    return span_processors, metric_readers


def instrument(tracer_provider: Any, meter_provider: Any) -> None:
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.threading import ThreadingInstrumentor

    from dynamo.metrics import publish_dynamodb_metrics

    # Threading: S3 uploads go through s3transfer's thread pool, whose calls would
    # otherwise start traces of their own instead of joining the request's.
    for instrumentor in (DjangoInstrumentor(), BotocoreInstrumentor(), ThreadingInstrumentor()):
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        _instrumentors.append(instrumentor)
    publish_dynamodb_metrics(on_call=record.dynamodb_call, on_refusal=record.dynamodb_refusal)


def make_instruments(meter: Any) -> dict[str, Any]:
    made = {}
    for metric in catalogue.METRICS:
        create = meter.create_counter if metric.kind == "counter" else meter.create_histogram
        made[metric.name] = create(metric.name, unit=metric.unit, description=metric.description)
    return made


def stop() -> None:
    """Undo ``start`` (tests): unwrap what was instrumented; ``record`` is off again."""
    from dynamo.metrics import unpublish_dynamodb_metrics

    record.install(None)
    unpublish_dynamodb_metrics()
    while _instrumentors:
        _instrumentors.pop().uninstrument()
