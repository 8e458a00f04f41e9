"""Every metric DermaLens emits: name, kind, unit, attributes, and CloudWatch dimensions.

    from telemetry.catalogue import METRICS, NAMESPACE

One list, read by the instruments (``telemetry.record``), the ADOT collector's
configuration and the CloudWatch alarms and dashboard (``deploy/make_cloudformation.py``),
so an alarm can only name a metric that exists. Attribute values are few and fixed
(routes, tables, operations, uses, reasons): nothing per user, so CloudWatch's cost per
metric stays bounded. Plain data: importing it costs nothing and imports no
OpenTelemetry.
"""

from dataclasses import dataclass

# The CloudWatch namespace of the ADOT collector's awsemf exporter (deploy/adot-collector.yaml).
NAMESPACE = "DermaLens"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # "counter" or "histogram"
    unit: str  # UCUM, as OpenTelemetry wants: "ms", "By", "1", "{call}"
    description: str
    attributes: tuple[str, ...]
    # The attribute sets kept as CloudWatch dimensions; () is the metric over everything.
    dimension_sets: tuple[tuple[str, ...], ...] = ((),)


HTTP_REQUESTS = Metric(
    "dermalens.http.requests",
    "counter",
    "{request}",
    "Requests answered, by route, method and status class (2xx, 4xx, 5xx).",
    ("http.route", "http.request.method", "http.response.status_class"),
    ((), ("http.response.status_class",), ("http.route", "http.response.status_class")),
)
HTTP_DURATION = Metric(
    "dermalens.http.duration",
    "histogram",
    "ms",
    "Time from the request's arrival at Django to its response, by route.",
    ("http.route", "http.request.method", "http.response.status_class"),
    ((), ("http.route",)),
)
DYNAMODB_CALLS = Metric(
    "dermalens.dynamodb.calls",
    "counter",
    "{call}",
    "DynamoDB calls (after botocore's retries), by table and operation.",
    ("aws.dynamodb.table", "aws.dynamodb.operation"),
    ((), ("aws.dynamodb.table", "aws.dynamodb.operation")),
)
DYNAMODB_CAPACITY = Metric(
    "dermalens.dynamodb.consumed_capacity",
    "counter",
    "{capacity_unit}",
    "Read and write capacity units DynamoDB reports consumed, by table and operation.",
    ("aws.dynamodb.table", "aws.dynamodb.operation", "aws.dynamodb.capacity"),
    (("aws.dynamodb.capacity",), ("aws.dynamodb.table", "aws.dynamodb.capacity")),
)
DYNAMODB_THROTTLES = Metric(
    "dermalens.dynamodb.throttles",
    "counter",
    "{attempt}",
    "Attempts DynamoDB refused for throughput (each retry counts), by table and operation.",
    ("aws.dynamodb.table", "aws.dynamodb.operation"),
    ((), ("aws.dynamodb.table", "aws.dynamodb.operation")),
)
DYNAMODB_SYSTEM_ERRORS = Metric(
    "dermalens.dynamodb.system_errors",
    "counter",
    "{attempt}",
    "Attempts DynamoDB answered with a 5xx (each retry counts), by table and operation.",
    ("aws.dynamodb.table", "aws.dynamodb.operation"),
    ((), ("aws.dynamodb.table", "aws.dynamodb.operation")),
)
AI_CALLS = Metric(
    "dermalens.ai.calls",
    "counter",
    "{call}",
    "AI provider calls by use (analysis, plan, chat), provider, outcome and failure reason.",
    ("ai.use", "ai.provider", "ai.outcome", "ai.reason"),
    ((), ("ai.outcome",), ("ai.use", "ai.outcome"), ("ai.use", "ai.reason")),
)
AI_DURATION = Metric(
    "dermalens.ai.duration",
    "histogram",
    "ms",
    "How long an AI provider call took, retries and waits included, by use and outcome: "
    "to the last piece of a streamed chat reply.",
    ("ai.use", "ai.provider", "ai.outcome"),
    ((), ("ai.use",)),
)
AI_FIRST_PIECE = Metric(
    "dermalens.ai.time_to_first_piece",
    "histogram",
    "ms",
    "How long a streamed AI answer (a chat reply) took to its first piece, the first words "
    "the person reads, retries and waits included, by use; the whole call is in "
    "dermalens.ai.duration.",
    ("ai.use", "ai.provider"),
    (("ai.use",),),
)
AI_TOKENS = Metric(
    "dermalens.ai.tokens",
    "counter",
    "{token}",
    "Tokens Gemini reports for its answers, by use and type: input (the prompt, the photo "
    "included), output (the answer), thoughts (thinking, billed as output) and cached "
    "(input read from Gemini's cache). What the bill is made of.",
    ("ai.use", "ai.token_type"),
    (("ai.token_type",), ("ai.use", "ai.token_type")),
)
ANALYSES = Metric(
    "dermalens.analyses",
    "counter",
    "{scan}",
    "Scans whose analysis ended, by status (complete, failed) and failure reason.",
    ("scan.status", "scan.failure_reason"),
    (("scan.status",), ("scan.failure_reason",)),
)
QUEUE_AGE = Metric(
    "dermalens.analysis.queue_age",
    "histogram",
    "ms",
    "How long an analysis request waited in the queue before a worker took it.",
    (),
)
UPLOAD_SIZE = Metric(
    "dermalens.upload.size",
    "histogram",
    "By",
    "Bytes of each uploaded photo as received (before re-encoding), by body area.",
    ("scan.area",),
)

METRICS = (
    HTTP_REQUESTS,
    HTTP_DURATION,
    DYNAMODB_CALLS,
    DYNAMODB_CAPACITY,
    DYNAMODB_THROTTLES,
    DYNAMODB_SYSTEM_ERRORS,
    AI_CALLS,
    AI_DURATION,
    AI_FIRST_PIECE,
    AI_TOKENS,
    ANALYSES,
    QUEUE_AGE,
    UPLOAD_SIZE,
)
METRICS_BY_NAME = {metric.name: metric for metric in METRICS}
