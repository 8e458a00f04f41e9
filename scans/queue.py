"""Analysis through Amazon SQS: the web process enqueues, ``analysis_worker`` analyses.

    enqueue_analysis(user_id=user.user_id, scan_id=scan.scan_id)   # in a request
    AnalysisWorker().run()                                           # in the worker

With ``ANALYSIS_QUEUE_URL`` set an upload stores its scan (``pending``), sends one
message and answers 202; a worker long-polls the queue, analyses the scan and deletes the
message. SQS delivers at least once, so a message may arrive twice or at two workers:
a worker analyses only a scan that is still pending, and only after claiming it with a
conditional write, so any number of workers on any number of hosts analyse each scan
once. A message whose handling fails is left alone: it reappears after the visibility
timeout, and the queue's redrive policy moves it to the dead-letter queue after a few
failed receives. A malformed message is never deleted, so it ends there too.
"""

import functools
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from dermalens_site.errors import ServiceUnavailable
from dynamo.scans import scans_table
from dynamo.users import users_table
from telemetry import record as telemetry

logger = logging.getLogger("dermalens.worker")

MESSAGE_KIND = "analyze_scan"
# A local SQS server (moto) accepts any credentials; botocore needs some to sign.
LOCAL_CREDENTIALS = {
    "aws_access_key_id": "dermalenslocal",
    "aws_secret_access_key": "dermalenslocal",
}
CONNECT_TIMEOUT_SECONDS = 2
# A receive is held open for up to ANALYSIS_WORKER_WAIT_SECONDS; reading must outlast it.
READ_TIMEOUT_MARGIN_SECONDS = 10
MAX_ATTEMPTS = 3
# After a failed receive (SQS unreachable), wait before asking again.
RECEIVE_RETRY_SECONDS = 5
# The W3C trace context (traceparent, tracestate) travels in message attributes, so the
# worker's trace links to the request that queued the scan; absent with telemetry off.
TRACE_ATTRIBUTES = ("traceparent", "tracestate")
# Ids are ULIDs; anything else in a message is malformed, never a key to look up.
ID_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


class QueueUnavailable(ServiceUnavailable):
    default_code = "queue_unavailable"
    default_message = "The analysis queue is unavailable right now; please retry shortly."


class MalformedMessage(ValueError):
    """A message body that is not an analysis request: it goes to the dead-letter queue."""


def client_config() -> Config:
    return Config(
        region_name=settings.AWS_REGION,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=settings.ANALYSIS_WORKER_WAIT_SECONDS + READ_TIMEOUT_MARGIN_SECONDS,
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        tcp_keepalive=True,
    )


@functools.cache
def get_client() -> Any:
    """The process's SQS client (thread-safe), created on first use from settings."""
    endpoint = settings.AWS_SQS_ENDPOINT
    extra = {"endpoint_url": endpoint, **LOCAL_CREDENTIALS} if endpoint else {}
    return boto3.session.Session().client("sqs", config=client_config(), **extra)


def reset_client() -> None:
    """Forget the cached client (after the endpoint or region setting changes, as in tests)."""
    get_client.cache_clear()


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    user_id: str
    scan_id: str

    def to_body(self) -> str:
        return json.dumps({"kind": MESSAGE_KIND, "user_id": self.user_id, "scan_id": self.scan_id})

    @classmethod
    def from_body(cls, body: str) -> "AnalysisRequest":
        try:
            fields = json.loads(body)
        except ValueError as err:
            raise MalformedMessage("not JSON") from err
        if not isinstance(fields, dict) or fields.get("kind") != MESSAGE_KIND:
            raise MalformedMessage("not an analysis request")
        user_id, scan_id = fields.get("user_id"), fields.get("scan_id")
        if not all(isinstance(i, str) and ID_PATTERN.match(i) for i in (user_id, scan_id)):
            raise MalformedMessage("user_id and scan_id must be ULIDs")
        return cls(user_id=user_id, scan_id=scan_id)


def enqueue_analysis(*, user_id: str, scan_id: str) -> None:
    """Send one analysis request to ANALYSIS_QUEUE_URL; QueueUnavailable when SQS fails."""
    body = AnalysisRequest(user_id=user_id, scan_id=scan_id).to_body()
    trace_context: dict[str, str] = {}
    telemetry.inject_trace_context(trace_context)
    attributes = {
        name: {"DataType": "String", "StringValue": value}
        for name, value in trace_context.items()
        if name in TRACE_ATTRIBUTES
    }
    try:
        get_client().send_message(
            QueueUrl=settings.ANALYSIS_QUEUE_URL,
            MessageBody=body,
            **({"MessageAttributes": attributes} if attributes else {}),
        )
    except (ClientError, BotoCoreError) as err:
        logger.error("analysis not queued", extra={"scan_id": scan_id, "error": str(err)})
        raise QueueUnavailable() from err


class AnalysisWorker:
    """Receive analysis requests and handle them one at a time until stopped.

    ``stop()`` (from a signal handler or another thread) ends the loop once the message
    in hand is finished; a receive in progress returns within the long-poll wait.
    """

    def __init__(
        self,
        *,
        queue_url: str | None = None,
        wait_seconds: int | None = None,
        visibility_timeout_seconds: int | None = None,
        batch_size: int = 1,
    ):
        self.queue_url = queue_url or settings.ANALYSIS_QUEUE_URL
        if not self.queue_url:
            raise ValueError("Set ANALYSIS_QUEUE_URL (or pass queue_url) to run the worker.")
        self.wait_seconds = (
            settings.ANALYSIS_WORKER_WAIT_SECONDS if wait_seconds is None else wait_seconds
        )
        self.visibility_timeout_seconds = (
            visibility_timeout_seconds or settings.ANALYSIS_VISIBILITY_TIMEOUT_SECONDS
        )
        self.batch_size = batch_size
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self, *, once: bool = False, max_messages: int | None = None) -> int:
        """Handle messages until stopped; ``once``: one receive only. Returns how many."""
        handled = 0
        while not self.stopping:
            limit = self.batch_size
            if max_messages is not None:
                limit = min(limit, max_messages - handled)
            for message in self.receive(limit):
                self.handle(message)
                handled += 1
            if once or (max_messages is not None and handled >= max_messages):
                break
        return handled

    def receive(self, limit: int) -> list[dict[str, Any]]:
        try:
            response = get_client().receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=limit,
                WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=self.visibility_timeout_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                MessageAttributeNames=list(TRACE_ATTRIBUTES),
            )
        except (ClientError, BotoCoreError) as err:
            # SQS unreachable or throttling past botocore's retries: wait, then poll again.
            logger.error("receive failed", extra={"error": str(err)})
            self._stopping.wait(RECEIVE_RETRY_SECONDS)
            return []
        return response.get("Messages", [])

    def handle(self, message: dict[str, Any]) -> str:
        """Process one message; returns what happened (also logged).

        With telemetry on it is one trace, linked to the request that queued it, and the
        time the message waited is recorded.
        """
        sent_ms = message.get("Attributes", {}).get("SentTimestamp")
        if sent_ms:
            telemetry.queue_wait(seconds=time.time() - int(sent_ms) / 1000)
        carrier = {
            name: value.get("StringValue", "")
            for name, value in (message.get("MessageAttributes") or {}).items()
        }
        with telemetry.consumer_span(
            "analysis process",
            carrier,
            **{"messaging.system": "aws_sqs", "messaging.message.id": message.get("MessageId", "")},
        ):
            return self._handle(message)

    def _handle(self, message: dict[str, Any]) -> str:
        started = time.perf_counter()
        details = {
            "message_id": message.get("MessageId"),
            "receive_count": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
        }
        try:
            request = AnalysisRequest.from_body(message.get("Body", ""))
        except MalformedMessage as err:
            # Not deleted: after maxReceiveCount receives SQS moves it to the dead-letter
            # queue, where it can be looked at.
            logger.error("malformed message", extra={**details, "problem": str(err)})
            return "malformed"
        details["scan_id"] = request.scan_id
        try:
            outcome = self.process(request)
        except Exception:
            # Left in the queue: it reappears after the visibility timeout and is retried,
            # and goes to the dead-letter queue after a few failures.
            logger.exception("analysis failed; the message will be retried", extra=details)
            return "retry"
        if outcome != "busy":
            self.delete(message)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        logger.info(
            "message handled", extra={**details, "outcome": outcome, "duration_ms": duration_ms}
        )
        return outcome

    def process(self, request: AnalysisRequest) -> str:
        from scans import services  # services import this module to enqueue

        scans = scans_table()
        scan = scans.get(request.user_id, request.scan_id, consistent=True)
        if scan is None:
            return "scan_gone"
        if scan.status != "pending" or scan.failure_reason:
            return "already_done"  # analysed on an earlier delivery, or not queued
        user = users_table().get(request.user_id)
        if user is None:
            return "user_gone"
        now = int(time.time())
        claim_id = uuid.uuid4().hex
        claimed = scans.claim_for_analysis(
            request.user_id,
            request.scan_id,
            claim_id=claim_id,
            now=now,
            until=now + self.visibility_timeout_seconds,
        )
        if claimed is None:
            # Another worker is analysing it (or just finished). Keep the message: if that
            # worker dies, this copy comes back after the visibility timeout and retries.
            return "busy"
        try:
            return services.analyze_claimed_scan(user=user, scan=claimed)
        finally:
            scans.release_claim(request.user_id, request.scan_id, claim_id=claim_id)

    def delete(self, message: dict[str, Any]) -> None:
        # A failed delete only means the message comes back, and is then skipped.
        try:
            get_client().delete_message(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        except (ClientError, BotoCoreError) as err:
            logger.warning(
                "message not deleted",
                extra={"message_id": message.get("MessageId"), "error": str(err)},
            )
