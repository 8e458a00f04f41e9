"""OpenTelemetry: off at no cost by default; when on, a real request's spans and metrics.

The exporters are the SDK's in-memory ones; everything else is the real stack (DynamoDB
Local, moto's S3 and SQS, the fake Gemini server behind google-genai).
"""

import dataclasses
import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from scans.tests import queues
from scans.tests.conftest import SAMPLE_FACE, upload_file
from scans.tests.test_worker import wait_until
from telemetry import catalogue, record, sdk
from tests.fake_gemini import PROMPT_TOKENS, STREAM_PIECE_CHARS, THOUGHTS_TOKENS, FakeResponse

SCANS = "/api/v1/scans"


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.reader = InMemoryMetricReader()

    def finished_spans(self) -> list:
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list[tuple[dict, object]]:
        """(attributes, data point) of every point of metric ``name``."""
        found = []
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else []:
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found += [(dict(p.attributes), p) for p in metric.data.data_points]
        return found

    def emitted(self) -> dict[str, set[str]]:
        """Every metric name seen, with the attribute keys its points carry."""
        names: dict[str, set[str]] = {}
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else []:
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    keys = names.setdefault(metric.name, set())
                    for point in metric.data.data_points:
                        keys.update(point.attributes)
        return names


@pytest.fixture
def telemetry():
    """Telemetry on, exporting to memory, for this test only."""
    collected = Telemetry()
    sdk.start(
        span_processors=[SimpleSpanProcessor(collected.spans)], metric_readers=[collected.reader]
    )
    yield collected
    sdk.stop()


def upload_photo(client):
    body = {"image": upload_file(SAMPLE_FACE.read_bytes())}
    return client.post(SCANS, body, format="multipart")


class TestOffByDefault:
    @pytest.mark.parametrize(
        ("environ", "on"),
        [
            ({}, False),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
            ({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}, False),
            ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
            ({"OTEL_METRICS_EXPORTER": "console"}, True),
            ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
        ],
    )
    def test_only_a_named_exporter_turns_telemetry_on(self, environ, on):
        assert sdk.requested(environ) is on

    def test_a_process_without_an_exporter_never_imports_opentelemetry(self):
        script = (
            "import sys, django; django.setup();"
            "from django.test import Client;"
            "Client().get('/api/v1/health');"
            "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
        )
        environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        environ.update(DJANGO_SETTINGS_MODULE="dermalens_site.settings", DEBUG="true")
        ran = subprocess.run(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "-c", script],
            cwd=django_settings.BASE_DIR,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip().splitlines()[-1] == "[]"

    def test_recording_while_off_records_nothing_and_needs_no_sdk(self):
        assert not record.started()
        record.http_request(route="x", method="GET", status=200, seconds=0.1)
        with record.ai_call(use="chat", provider=object()) as call:
            pass
        assert call.outcome == "ok"


class TestTraces:
    def test_a_read_is_one_trace_a_server_span_with_its_dynamodb_calls(
        self, telemetry, auth_client
    ):
        telemetry.spans.clear()  # signing up the user was traced too
        response = auth_client.get(SCANS)
        assert response.status_code == 200

        spans = telemetry.finished_spans()
        (server,) = [s for s in spans if s.kind == SpanKind.SERVER]
        assert server.attributes["http.route"] == "api/v1/scans$"
        assert server.attributes["http.status_code"] == 200
        dynamodb = [s for s in spans if s.attributes.get("rpc.service") == "DynamoDB"]
        assert {s.attributes["rpc.method"] for s in dynamodb} == {"GetItem", "Query"}
        for span in dynamodb:
            assert span.context.trace_id == server.context.trace_id
            assert span.parent.span_id == server.context.span_id

    def test_an_upload_traces_its_s3_dynamodb_and_gemini_calls_in_one_trace(
        self, telemetry, auth_client, s3_storage, gemini_settings, fake_gemini
    ):
        telemetry.spans.clear()
        response = upload_photo(auth_client)
        assert response.status_code == 201, response.content

        spans = telemetry.finished_spans()
        (server,) = [s for s in spans if s.kind == SpanKind.SERVER]
        in_trace = [s for s in spans if s.context.trace_id == server.context.trace_id]
        services = {s.attributes.get("rpc.service") for s in in_trace}
        assert {"S3", "DynamoDB"} <= services
        (gemini,) = [s for s in in_trace if s.name == "generate_content gemini-3.5-flash"]
        assert gemini.kind == SpanKind.CLIENT
        assert gemini.attributes["gen_ai.system"] == "gemini"
        assert gemini.attributes["dermalens.ai.use"] == "analysis"
        assert gemini.attributes["dermalens.ai.outcome"] == "ok"
        puts = [s for s in in_trace if s.attributes.get("rpc.method") == "PutObject"]
        assert len(puts) == 2  # the photo and its thumbnail

    def test_a_queued_analysis_is_a_worker_trace_linked_to_the_upload(
        self, telemetry, auth_client, moto_s3_server, settings
    ):
        with queues.analysis_queue(moto_s3_server, settings) as queue:
            telemetry.spans.clear()
            response = upload_photo(auth_client)
            assert response.status_code == 202, response.content
            assert queues.messages_in(queue.sqs, queue.url) == 1
            with queues.running_worker():
                assert wait_until(lambda: queues.messages_in(queue.sqs, queue.url) == 0, seconds=60)

        spans = telemetry.finished_spans()
        (server,) = [s for s in spans if s.kind == SpanKind.SERVER]
        (worker,) = [s for s in spans if s.name == "analysis process"]
        assert worker.kind == SpanKind.CONSUMER
        assert worker.context.trace_id != server.context.trace_id
        assert [link.context.trace_id for link in worker.links] == [server.context.trace_id]
        assert auth_client.get(f"{SCANS}/{response.json()['scan_id']}").json()["status"] == (
            "complete"
        )
        (waited,) = telemetry.points("dermalens.analysis.queue_age")
        assert waited[1].count == 1

    def test_log_lines_written_inside_a_trace_carry_its_ids(self, telemetry):
        handler = next(
            h
            for h in logging.getLogger().handlers
            if any(type(f).__name__ == "TraceContextFilter" for f in h.filters)
        )
        with record._tracer.start_as_current_span("work") as span:
            line = logging.LogRecord("dermalens.test", logging.INFO, __file__, 1, "hello", (), None)
            assert handler.filter(line)
            written = json.loads(handler.format(line))
        assert written["trace_id"] == format(span.get_span_context().trace_id, "032x")
        assert written["span_id"] == format(span.get_span_context().span_id, "016x")


class TestMetrics:
    def test_an_upload_records_request_dynamodb_ai_analysis_and_size_metrics(
        self, telemetry, auth_client, gemini_settings, fake_gemini
    ):
        assert upload_photo(auth_client).status_code == 201

        requests = telemetry.points("dermalens.http.requests")
        assert (
            {
                "http.route": "api/v1/scans$",
                "http.request.method": "POST",
                "http.response.status_class": "2xx",
            },
            1,
        ) in [(attributes, point.value) for attributes, point in requests]
        calls = {
            (a["aws.dynamodb.table"], a["aws.dynamodb.operation"])
            for a, _ in telemetry.points("dermalens.dynamodb.calls")
        }
        assert (django_settings.DYNAMODB_SCANS_TABLE, "PutItem") in calls or (
            django_settings.DYNAMODB_SCANS_TABLE,
            "TransactWriteItems",
        ) in calls
        capacity = telemetry.points("dermalens.dynamodb.consumed_capacity")
        assert sum(p.value for a, p in capacity if a["aws.dynamodb.capacity"] == "write") > 0
        (ai,) = telemetry.points("dermalens.ai.calls")
        assert ai[0] == {
            "ai.use": "analysis",
            "ai.provider": "gemini",
            "ai.outcome": "ok",
            "ai.reason": "none",
        }
        (ai_duration,) = telemetry.points("dermalens.ai.duration")
        assert ai_duration[1].count == 1 and ai_duration[1].sum > 0
        (analysed,) = telemetry.points("dermalens.analyses")
        assert analysed[0] == {"scan.status": "complete", "scan.failure_reason": "none"}
        (size,) = telemetry.points("dermalens.upload.size")
        assert size[1].sum == SAMPLE_FACE.stat().st_size

    def test_a_failed_ai_call_is_counted_with_its_reason(
        self, telemetry, auth_client, gemini_settings, fake_gemini
    ):
        fake_gemini.enqueue(*[FakeResponse.status(503)] * 3)
        assert upload_photo(auth_client).json()["failure_reason"] == "provider_unavailable"

        (ai,) = telemetry.points("dermalens.ai.calls")
        assert ai[0]["ai.outcome"] == "failed"
        assert ai[0]["ai.reason"] == "provider_unavailable"
        (analysed,) = telemetry.points("dermalens.analyses")
        assert analysed[0]["scan.failure_reason"] == "provider_unavailable"

    @pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
    def test_the_tokens_of_each_gemini_answer_are_counted_by_use_and_type(
        self, telemetry, auth_client, gemini_settings, fake_gemini, streamed
    ):
        reply = "A gentle cleanser, then sunscreen. " * 8
        assert upload_photo(auth_client).status_code == 201
        session = auth_client.post("/api/v1/chat/sessions", {}, format="json").json()
        fake_gemini.enqueue(FakeResponse.text_answer(reply))
        headers = {"HTTP_ACCEPT": "text/event-stream"} if streamed else {}
        sent = auth_client.post(
            f"/api/v1/chat/sessions/{session['session_id']}/messages",
            {"content": "What should I use?"},
            format="json",
            **headers,
        )
        if streamed:
            b"".join(sent.streaming_content)  # read to its end, as a client does
        assert sent.status_code in (200, 201), sent.content

        tokens = {
            (a["ai.use"], a["ai.token_type"]): p.value
            for a, p in telemetry.points("dermalens.ai.tokens")
        }
        # Each event of a stream counts the answer so far: the last one's, once.
        assert tokens[("chat", "input")] == PROMPT_TOKENS
        assert tokens[("chat", "output")] == len(reply) // 4
        assert tokens[("chat", "thoughts")] == THOUGHTS_TOKENS
        assert tokens[("analysis", "input")] == PROMPT_TOKENS
        assert tokens[("analysis", "output")] > 0
        assert ("chat", "cached") not in tokens  # none reported, none counted

    def test_every_metric_emitted_is_in_the_catalogue_with_its_attributes(
        self, telemetry, auth_client, gemini_settings, fake_gemini
    ):
        upload_photo(auth_client)

        ours = {n: keys for n, keys in telemetry.emitted().items() if n.startswith("dermalens.")}
        for name, keys in ours.items():
            assert keys <= set(catalogue.METRICS_BY_NAME[name].attributes), name


STREAMED_REPLY = "Use a gentle cleanser morning and evening, then a light moisturiser. " * 3
# Between the fake Gemini's events: what a stream's time must hold beyond its first piece.
EVENT_PAUSE_SECONDS = 0.1


def paced(response):
    return dataclasses.replace(response, chunk_delay_seconds=EVENT_PAUSE_SECONDS)


def stream_reply_events(client, script, fake_gemini) -> list[str]:
    """Send a message with ``Accept: text/event-stream`` and read the stream to its end;
    the names of its events."""
    session = client.post("/api/v1/chat/sessions", {}, format="json").json()
    fake_gemini.enqueue(script)
    sent = client.post(
        f"/api/v1/chat/sessions/{session['session_id']}/messages",
        {"content": "What should I use?"},
        format="json",
        HTTP_ACCEPT="text/event-stream",
    )
    assert sent.status_code == 200, sent.content
    body = b"".join(sent.streaming_content).decode()
    return [block.split("\n")[0].removeprefix("event: ") for block in body.split("\n\n") if block]


def streamed_cases():
    whole = FakeResponse.text_answer(STREAMED_REPLY)
    events = len(whole.events())
    return [
        # (script, outcome, reason, pauses after the first piece the call's time holds)
        pytest.param(paced(whole), "ok", "none", events - 1, id="whole"),
        pytest.param(
            dataclasses.replace(whole, cut_after_chunks=1),
            "failed",
            "provider_unavailable",
            0,
            id="connection-lost",
        ),
        pytest.param(
            paced(FakeResponse.failed_midway(STREAMED_REPLY)),
            "failed",
            "provider_unavailable",
            1,
            id="error-event",
        ),
        pytest.param(
            paced(FakeResponse.blocked_midway(STREAMED_REPLY)),
            "failed",
            "safety_block",
            events,
            id="blocked",
        ),
    ]


def chat_tokens(telemetry) -> dict[str, int]:
    """The chat tokens counted, by type."""
    return {
        attributes["ai.token_type"]: point.value
        for attributes, point in telemetry.points("dermalens.ai.tokens")
        if attributes["ai.use"] == "chat"
    }


class TestStreamedReplyMetrics:
    @pytest.mark.parametrize(("script", "outcome", "reason", "pauses"), streamed_cases())
    def test_a_streamed_reply_is_one_ai_call_to_its_last_piece_with_its_outcome(
        self, telemetry, auth_client, gemini_settings, fake_gemini, script, outcome, reason, pauses
    ):
        names = stream_reply_events(auth_client, script, fake_gemini)
        assert names[0] == "message" and names[1] == "delta"  # past its first words
        assert names[-1] == ("reply" if outcome == "ok" else "error")

        (ai,) = telemetry.points("dermalens.ai.calls")
        assert ai[0] == {
            "ai.use": "chat",
            "ai.provider": "gemini",
            "ai.outcome": outcome,
            "ai.reason": reason,
        }
        assert ai[1].value == 1
        # The call's time runs to the stream's end, past the first piece (kept apart).
        paused_ms = pauses * EVENT_PAUSE_SECONDS * 1000
        (duration,) = telemetry.points("dermalens.ai.duration")
        assert duration[0]["ai.outcome"] == outcome and duration[1].count == 1
        assert duration[1].sum >= paused_ms
        (first_piece,) = telemetry.points("dermalens.ai.time_to_first_piece")
        assert first_piece[0] == {"ai.use": "chat", "ai.provider": "gemini"}
        assert first_piece[1].count == 1
        # The server's pause starts as it sends the first piece, a few milliseconds before
        # the client has read it: the call outlasts its first piece by most of the pauses.
        assert duration[1].sum >= first_piece[1].sum + 0.8 * paused_ms
        (span,) = [s for s in telemetry.finished_spans() if s.name.startswith("generate_content")]
        assert span.attributes["dermalens.ai.outcome"] == outcome
        assert (span.end_time - span.start_time) / 1e6 >= paused_ms

    def test_a_stream_still_coming_at_the_calls_deadline_is_a_timed_out_ai_call(
        self, telemetry, auth_client, gemini_settings, fake_gemini
    ):
        gemini_settings.GEMINI_TIMEOUT_SECONDS = 1.0
        gemini_settings.GEMINI_CALL_DEADLINE_SECONDS = 1.0
        trickle = dataclasses.replace(
            FakeResponse.text_answer(STREAMED_REPLY * 2), chunk_delay_seconds=0.3
        )
        names = stream_reply_events(auth_client, trickle, fake_gemini)
        assert "delta" in names and names[-1] == "error"

        (ai,) = telemetry.points("dermalens.ai.calls")
        assert (ai[0]["ai.outcome"], ai[0]["ai.reason"], ai[1].value) == ("failed", "timeout", 1)
        (duration,) = telemetry.points("dermalens.ai.duration")
        assert duration[1].sum >= 1000 * gemini_settings.GEMINI_CALL_DEADLINE_SECONDS * 0.9

    def test_the_tokens_of_a_stream_blocked_midway_are_counted(
        self, telemetry, auth_client, gemini_settings, fake_gemini
    ):
        names = stream_reply_events(
            auth_client, FakeResponse.blocked_midway(STREAMED_REPLY), fake_gemini
        )
        assert "delta" in names and names[-1] == "error"

        tokens = chat_tokens(telemetry)
        # Gemini bills what it wrote before it withheld the rest: its last event's counts.
        assert tokens["input"] == PROMPT_TOKENS
        assert tokens["thoughts"] == THOUGHTS_TOKENS

    def test_the_tokens_of_a_stream_left_after_its_first_piece_are_counted_once(
        self, telemetry, gemini_settings, fake_gemini
    ):
        from ai.chat import ChatContext
        from ai.providers import get_provider

        fake_gemini.enqueue(paced(FakeResponse.text_answer(STREAMED_REPLY)))
        pieces = get_provider("chat").stream_reply(
            context=ChatContext(), history=[], message="What should I use?"
        )
        assert next(pieces)
        pieces.close()  # the reader is gone

        tokens = chat_tokens(telemetry)
        assert tokens["input"] == PROMPT_TOKENS
        assert tokens["output"] == STREAM_PIECE_CHARS // 4  # the first event's, once

    def test_a_stream_that_fails_after_the_client_left_is_a_failed_ai_call(
        self, telemetry, auth_client, gemini_settings, fake_gemini
    ):
        session = auth_client.post("/api/v1/chat/sessions", {}, format="json").json()
        fake_gemini.enqueue(
            dataclasses.replace(paced(FakeResponse.text_answer(STREAMED_REPLY)), cut_after_chunks=3)
        )
        sent = auth_client.post(
            f"/api/v1/chat/sessions/{session['session_id']}/messages",
            {"content": "What should I use?"},
            format="json",
            HTTP_ACCEPT="text/event-stream",
        )
        stream = iter(sent.streaming_content)
        assert next(stream).startswith(b"event: message")
        assert next(stream).startswith(b"event: delta")
        sent.close()  # gone; then Gemini hangs up midway

        (ai,) = telemetry.points("dermalens.ai.calls")
        assert (ai[0]["ai.outcome"], ai[0]["ai.reason"]) == ("failed", "provider_unavailable")
