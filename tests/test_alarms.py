"""The CloudWatch alarms and dashboard name only metrics the service emits, with
dimensions the ADOT collector keeps; the collector's configuration is generated.

The metrics are collected from real requests with telemetry on (in-memory reader);
throttling and DynamoDB 5xx, which DynamoDB Local never answers, come from a small
local server that answers the DynamoDB JSON protocol with those errors, reached by the
real botocore client.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from botocore.exceptions import ClientError
from django.conf import settings as django_settings

from dynamo import client as dynamo_client
from scans.tests import queues
from scans.tests.test_worker import wait_until
from telemetry import catalogue
from tests.test_deploy import DEPLOY, load_generator
from tests.test_telemetry import Telemetry, upload_photo

REFUSALS = [
    (400, {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate"}),
    (500, {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "Oops"}),
]


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.safe_load((DEPLOY / "cloudformation.yaml").read_text())


@pytest.fixture(scope="module")
def collector() -> dict:
    return yaml.safe_load((DEPLOY / "adot-collector.yaml").read_text())


def our_alarm_metrics(template: dict) -> list[tuple[str, str, frozenset[str]]]:
    """(alarm, metric name, dimension names) of every alarm on the DermaLens namespace."""
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        metrics = [
            entry["MetricStat"]["Metric"]
            for entry in properties.get("Metrics", [])
            if "MetricStat" in entry
        ]
        if "MetricName" in properties:
            metrics.append(properties)
        for metric in metrics:
            if metric["Namespace"] == catalogue.NAMESPACE:
                dimensions = frozenset(d["Name"] for d in metric.get("Dimensions", []))
                found.append((name, metric["MetricName"], dimensions))
    return found


def refusing_dynamodb():
    """A server that refuses every DynamoDB call: first throttled, then a 500, in turn."""
    answers = iter(REFUSALS * 10)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, body = next(answers)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def emitted(auth_client, gemini_settings, fake_gemini, moto_s3_server, settings):
    """Metric names (with attribute keys) of an upload, a queued analysis and refusals,
    DynamoDB's throttle and error points, and the types of AI token counted."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from telemetry import sdk

    collected = Telemetry()
    sdk.start(
        span_processors=[SimpleSpanProcessor(collected.spans)], metric_readers=[collected.reader]
    )
    try:
        assert upload_photo(auth_client).status_code == 201
        with queues.analysis_queue(moto_s3_server, settings) as queue:
            assert upload_photo(auth_client).status_code == 202
            with queues.running_worker():
                assert wait_until(lambda: queues.messages_in(queue.sqs, queue.url) == 0, seconds=60)
        server = refusing_dynamodb()
        settings.AWS_DYNAMODB_ENDPOINT = f"http://127.0.0.1:{server.server_address[1]}"
        settings.DYNAMODB_MAX_ATTEMPTS = 3
        dynamo_client.reset_client()
        try:
            with pytest.raises(ClientError):
                dynamo_client.get_client().get_item(
                    TableName=django_settings.DYNAMODB_USERS_TABLE, Key={"user_id": {"S": "x"}}
                )
        finally:
            server.shutdown()
            server.server_close()
        names = collected.emitted()
        throttles = collected.points("dermalens.dynamodb.throttles")
        errors = collected.points("dermalens.dynamodb.system_errors")
        token_types = {
            attributes["ai.token_type"] for attributes, _ in collected.points("dermalens.ai.tokens")
        }
    finally:
        sdk.stop()
        dynamo_client.reset_client()
    settings.AWS_DYNAMODB_ENDPOINT = django_settings.AWS_DYNAMODB_ENDPOINT
    return names, throttles, errors, token_types


class TestAlarms:
    def test_every_alarm_names_a_metric_the_service_emits_with_its_dimensions(
        self, template, emitted
    ):
        names, _, _, _ = emitted
        alarms = our_alarm_metrics(template)
        assert {alarm for alarm, _, _ in alarms} >= {
            "Http5xxRatio",
            "HttpP95Latency",
            "DynamoDBThrottles",
            "DynamoDBSystemErrors",
            "AIFailureRatio",
            "AnalysesStalled",
            "AITokensPerHour",
        }
        for alarm, metric_name, dimensions in alarms:
            assert metric_name in names, f"{alarm}: {metric_name} is never emitted"
            assert dimensions <= names[metric_name], f"{alarm}: {dimensions} not attributes"
            metric = catalogue.METRICS_BY_NAME[metric_name]
            assert tuple(sorted(dimensions)) in {tuple(sorted(d)) for d in metric.dimension_sets}, (
                f"{alarm}: the collector does not keep {sorted(dimensions)} for {metric_name}"
            )

    def test_each_throttled_or_failed_attempt_of_dynamodb_is_counted(self, emitted):
        _, throttles, errors, _ = emitted
        table = django_settings.DYNAMODB_USERS_TABLE
        expected = {"aws.dynamodb.table": table, "aws.dynamodb.operation": "GetItem"}
        # DYNAMODB_MAX_ATTEMPTS of 3 is three attempts in all: throttled, 500, throttled.
        assert [(attributes, point.value) for attributes, point in throttles] == [(expected, 2)]
        assert [(attributes, point.value) for attributes, point in errors] == [(expected, 1)]

    def test_the_dead_letter_alarm_watches_the_templates_dead_letter_queue(self, template):
        properties = template["Resources"]["AnalysisDeadLetters"]["Properties"]
        assert (properties["Namespace"], properties["MetricName"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
        )
        assert properties["Dimensions"][0]["Value"] == {
            "Fn::GetAtt": ["AnalysisDeadLetterQueue", "QueueName"]
        }
        assert (properties["ComparisonOperator"], properties["Threshold"]) == (
            "GreaterThanThreshold",
            0,
        )

    def test_the_token_alarm_adds_every_billed_token_type_over_the_budget_parameter(
        self, template, emitted
    ):
        *_, token_types = emitted
        properties = template["Resources"]["AITokensPerHour"]["Properties"]
        summed = {
            entry["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
            for entry in properties["Metrics"]
            if "MetricStat" in entry
        }
        # Cached input is already in the input count: every other type Gemini bills.
        assert summed == token_types - {"cached"} == {"input", "output", "thoughts"}
        [result] = [entry for entry in properties["Metrics"] if entry.get("ReturnData")]
        assert result["Expression"] == "FILL(input, 0) + FILL(output, 0) + FILL(thoughts, 0)"
        assert {entry["MetricStat"]["Period"] for entry in properties["Metrics"][:-1]} == {3600}
        assert properties["Threshold"] == {"Ref": "AITokensPerHourAlarm"}
        parameter = template["Parameters"]["AITokensPerHourAlarm"]
        assert parameter["Type"] == "Number" and parameter["Default"] > 0

    def test_email_reputation_alarms_fire_where_ses_starts_reviewing_the_account(self, template):
        resources = template["Resources"]
        watched = {
            (
                resources[name]["Properties"]["Namespace"],
                resources[name]["Properties"]["MetricName"],
                resources[name]["Properties"]["ComparisonOperator"],
                resources[name]["Properties"]["Threshold"],
            )
            for name in ("EmailBounceRate", "EmailComplaintRate")
        }
        assert watched == {
            ("AWS/SES", "Reputation.BounceRate", "GreaterThanOrEqualToThreshold", 0.05),
            ("AWS/SES", "Reputation.ComplaintRate", "GreaterThanOrEqualToThreshold", 0.001),
        }

    def test_every_alarm_notifies_the_alarm_topic_on_alarm_and_recovery(self, template):
        alarms = [
            r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"
        ]
        assert len(alarms) == 10
        for alarm in alarms:
            assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
            assert alarm["Properties"]["OKActions"] == [{"Ref": "AlarmTopic"}]


class TestDashboardAndCollector:
    def test_the_dashboard_shows_only_metrics_of_the_catalogue(self, template):
        body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        for widget in json.loads(body)["widgets"]:
            for line in widget["properties"]["metrics"]:
                namespace, name = line[0], line[1]
                if namespace == catalogue.NAMESPACE:
                    assert name in catalogue.METRICS_BY_NAME

    def test_the_collector_keeps_each_metrics_dimension_sets_and_no_rollups(self, collector):
        emf = collector["exporters"]["awsemf"]
        assert emf["namespace"] == catalogue.NAMESPACE
        assert emf["dimension_rollup_option"] == "NoDimensionRollup"
        declared = {
            declaration["metric_name_selectors"][0]: declaration["dimensions"]
            for declaration in emf["metric_declarations"]
        }
        for metric in catalogue.METRICS:
            selector = "^" + metric.name.replace(".", "\\.") + "$"
            assert declared[selector] == [list(d) for d in metric.dimension_sets]

    def test_the_committed_collector_config_is_the_generators_output(self):
        assert (DEPLOY / "adot-collector.yaml").read_text() == (
            load_generator().render_collector_config()
        )
