"""The CloudWatch alarms and dashboard of DermaLens, as data over ``telemetry.catalogue``.

    from telemetry.alarms import ALARMS, DASHBOARD_ROWS

``deploy/make_cloudformation.py`` turns them into ``AWS::CloudWatch::Alarm`` and
``AWS::CloudWatch::Dashboard`` resources; ``tests/test_alarms.py`` checks that every
metric an alarm names is one the service emits, with dimensions the collector keeps.
What to do when each fires is in the README ("Alarms: what to do").
Thresholds are product decisions, named here with their reason.
"""

from dataclasses import dataclass, field

from telemetry import catalogue

FIVE_MINUTES = 300
# Below this many requests in five minutes a few errors are noise, not an outage.
MIN_REQUESTS_FOR_RATIO = 20
ERROR_RATIO_PERCENT = 2
P95_LATENCY_MS = 2000  # reads answer in tens of ms; uploads with an analysis in seconds
THROTTLES_PER_FIVE_MINUTES = 10  # on-demand tables throttle briefly when traffic doubles
SYSTEM_ERRORS_PER_FIVE_MINUTES = 5
MIN_AI_CALLS_FOR_RATIO = 10
AI_FAILURE_RATIO_PERCENT = 20
# Uploads that reach an analysis arrive; none completes for this long: the worker or
# the provider is down (a quota-held upload completes nothing, hence a few uploads).
STALLED_MINUTES = 30
MIN_UPLOADS_WHEN_STALLED = 3
# Gemini bills by the token. More tokens in an hour than the operator's budget (the
# stack's AITokensPerHourAlarm parameter) is a flood, a loop or a new model's appetite.
AI_TOKENS_PARAMETER = "AITokensPerHourAlarm"
AI_TOKENS_PER_HOUR_DEFAULT = 10_000_000
ONE_HOUR = 3600
# Billed tokens: the prompt (photo included), the answer and the model's thinking; cached
# input is part of the input count.
BILLED_TOKEN_TYPES = ("input", "output", "thoughts")


@dataclass(frozen=True)
class Query:
    """One metric of the DermaLens namespace with its dimensions and statistic."""

    id: str
    metric: catalogue.Metric
    stat: str  # Sum, SampleCount, p95, Maximum, ...
    dimensions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alarm:
    name: str  # the logical id's stem and the alarm's name suffix
    description: str
    # Either one query (``threshold`` applies to it) or queries and an expression.
    queries: tuple[Query, ...]
    threshold: float
    expression: str | None = None
    comparison: str = "GreaterThanThreshold"
    period_seconds: int = FIVE_MINUTES
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 2
    # A stack parameter that holds the threshold instead (``threshold`` is its default).
    threshold_parameter: str | None = None


ALARMS = (
    Alarm(
        "Http5xxRatio",
        f"More than {ERROR_RATIO_PERCENT}% of requests answered 5xx.",
        (
            Query("errors", catalogue.HTTP_REQUESTS, "Sum", {"http.response.status_class": "5xx"}),
            Query("requests", catalogue.HTTP_REQUESTS, "Sum"),
        ),
        ERROR_RATIO_PERCENT,
        expression=(
            f"IF(requests >= {MIN_REQUESTS_FOR_RATIO}, 100 * FILL(errors, 0) / requests, 0)"
        ),
    ),
    Alarm(
        "HttpP95Latency",
        f"The 95th percentile of request time is above {P95_LATENCY_MS} ms.",
        (Query("latency", catalogue.HTTP_DURATION, "p95"),),
        P95_LATENCY_MS,
    ),
    Alarm(
        "DynamoDBThrottles",
        "DynamoDB refuses attempts for throughput.",
        (Query("throttles", catalogue.DYNAMODB_THROTTLES, "Sum"),),
        THROTTLES_PER_FIVE_MINUTES,
    ),
    Alarm(
        "DynamoDBSystemErrors",
        "DynamoDB answers attempts with 5xx errors.",
        (Query("errors", catalogue.DYNAMODB_SYSTEM_ERRORS, "Sum"),),
        SYSTEM_ERRORS_PER_FIVE_MINUTES,
        evaluation_periods=2,
    ),
    Alarm(
        "AIFailureRatio",
        f"More than {AI_FAILURE_RATIO_PERCENT}% of AI provider calls fail.",
        (
            Query("failed", catalogue.AI_CALLS, "Sum", {"ai.outcome": "failed"}),
            Query("calls", catalogue.AI_CALLS, "Sum"),
        ),
        AI_FAILURE_RATIO_PERCENT,
        expression=f"IF(calls >= {MIN_AI_CALLS_FOR_RATIO}, 100 * FILL(failed, 0) / calls, 0)",
    ),
    Alarm(
        "AnalysesStalled",
        f"Uploads arrive but no analysis has completed for {STALLED_MINUTES} minutes.",
        (
            Query("uploads", catalogue.UPLOAD_SIZE, "SampleCount"),
            Query("completed", catalogue.ANALYSES, "Sum", {"scan.status": "complete"}),
        ),
        0,
        expression=(
            f"IF(FILL(uploads, 0) >= {MIN_UPLOADS_WHEN_STALLED} AND FILL(completed, 0) == 0, 1, 0)"
        ),
        period_seconds=STALLED_MINUTES * 60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ),
    Alarm(
        "AITokensPerHour",
        "Gemini was billed for more tokens in an hour than the stack's AITokensPerHourAlarm.",
        tuple(
            Query(kind, catalogue.AI_TOKENS, "Sum", {"ai.token_type": kind})
            for kind in BILLED_TOKEN_TYPES
        ),
        AI_TOKENS_PER_HOUR_DEFAULT,
        expression=" + ".join(f"FILL({kind}, 0)" for kind in BILLED_TOKEN_TYPES),
        period_seconds=ONE_HOUR,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold_parameter=AI_TOKENS_PARAMETER,
    ),
)

# Amazon SES reviews an account whose bounce rate reaches 5% or complaint rate 0.1%, and
# may pause its sending (then no one gets a reset link): these alarms read SES's own
# account-level reputation metrics (the template adds them), at those levels.
SES_REPUTATION_ALARMS = (
    ("EmailBounceRate", "Reputation.BounceRate", 0.05),
    ("EmailComplaintRate", "Reputation.ComplaintRate", 0.001),
)

# The dead-letter queue's alarm reads SQS's own metric (the template adds it): a
# message there failed five times and waits for a person.
DEAD_LETTER_ALARM = "AnalysisDeadLetters"


@dataclass(frozen=True)
class Widget:
    title: str
    queries: tuple[Query, ...]


DASHBOARD_ROWS = (
    (
        Widget(
            "Requests by status class",
            tuple(
                Query(
                    f"status{n}",
                    catalogue.HTTP_REQUESTS,
                    "Sum",
                    {"http.response.status_class": f"{n}xx"},
                )
                for n in (2, 4, 5)
            ),
        ),
        Widget(
            "Request time (ms)",
            (
                Query("p50", catalogue.HTTP_DURATION, "p50"),
                Query("p95", catalogue.HTTP_DURATION, "p95"),
            ),
        ),
        Widget(
            "AI calls by outcome",
            tuple(
                Query(outcome, catalogue.AI_CALLS, "Sum", {"ai.outcome": outcome})
                for outcome in ("ok", "failed")
            ),
        ),
    ),
    (
        Widget(
            "AI time (ms)",
            (
                Query("p50", catalogue.AI_DURATION, "p50"),
                Query("p95", catalogue.AI_DURATION, "p95"),
                # A streamed chat reply's call runs to its last piece; its first words
                # are what the person waits for.
                Query(
                    "chat first piece p95",
                    catalogue.AI_FIRST_PIECE,
                    "p95",
                    {"ai.use": "chat"},
                ),
            ),
        ),
        Widget(
            "Analyses by status",
            tuple(
                Query(status, catalogue.ANALYSES, "Sum", {"scan.status": status})
                for status in ("complete", "failed")
            ),
        ),
        Widget(
            "Analysis queue wait (ms)",
            (
                Query("p50", catalogue.QUEUE_AGE, "p50"),
                Query("p95", catalogue.QUEUE_AGE, "p95"),
            ),
        ),
    ),
    (
        Widget(
            "DynamoDB calls, throttles, 5xx",
            (
                Query("calls", catalogue.DYNAMODB_CALLS, "Sum"),
                Query("throttles", catalogue.DYNAMODB_THROTTLES, "Sum"),
                Query("errors", catalogue.DYNAMODB_SYSTEM_ERRORS, "Sum"),
            ),
        ),
        Widget(
            "DynamoDB consumed capacity",
            tuple(
                Query(kind, catalogue.DYNAMODB_CAPACITY, "Sum", {"aws.dynamodb.capacity": kind})
                for kind in ("read", "write")
            ),
        ),
        Widget(
            "Upload size (bytes)",
            (
                Query("p50", catalogue.UPLOAD_SIZE, "p50"),
                Query("p95", catalogue.UPLOAD_SIZE, "p95"),
            ),
        ),
    ),
    (
        Widget(
            "Gemini output tokens by use",
            tuple(
                Query(use, catalogue.AI_TOKENS, "Sum", {"ai.use": use, "ai.token_type": "output"})
                for use in ("analysis", "plan", "chat")
            ),
        ),
        Widget(
            "Gemini tokens by type",
            tuple(
                Query(kind, catalogue.AI_TOKENS, "Sum", {"ai.token_type": kind})
                for kind in (*BILLED_TOKEN_TYPES, "cached")
            ),
        ),
    ),
)
