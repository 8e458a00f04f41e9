"""Scan jobs: the analysis of an uploaded scan, on a worker when a queue is configured.

    enqueue(analyze_scan, user_id=user.user_id, scan_id=scan.scan_id)   # scans.services

SQS delivers at least once, so a job may arrive twice or at two workers: a worker
analyses only a scan that is still pending, and only after claiming it with a
conditional write, so any number of workers on any number of hosts analyse each scan
once. A scan another worker holds is tried again later (``retry``); arguments that are
not ids fail the task, whose message then ends in the dead-letter queue.
"""

import logging
import re
import time

from celery import shared_task
from django.conf import settings

from scans import services
from telemetry import record as telemetry

logger = logging.getLogger("dermalens.worker")

# Ids are ULIDs; anything else in a message is malformed, never a key to look up.
ID_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
# A scan claimed by a live worker: ask again when that claim has run out.
BUSY_RETRIES = 5


class MalformedJob(ValueError):
    """Arguments that are not an analysis request: the message goes to the dead letters."""


@shared_task(name="scans.analyze_scan", bind=True, max_retries=BUSY_RETRIES)
def analyze_scan(
    self,
    *,
    user_id: str,
    scan_id: str,
    trace: dict[str, str] | None = None,
    queued_at: float | None = None,
) -> str:
    """Analyse one queued scan; returns the outcome (also logged).

    ``trace`` is the queuing request's trace context: the job's own trace links to it.
    """
    if not all(isinstance(i, str) and ID_PATTERN.match(i) for i in (user_id, scan_id)):
        raise MalformedJob("user_id and scan_id must be ULIDs")
    if isinstance(queued_at, int | float):
        telemetry.queue_wait(seconds=time.time() - queued_at)
    started = time.perf_counter()
    with telemetry.consumer_span("analysis process", trace if isinstance(trace, dict) else {}):
        outcome = services.analyze_queued_scan(
            user_id=user_id,
            scan_id=scan_id,
            claim_seconds=settings.ANALYSIS_VISIBILITY_TIMEOUT_SECONDS,
        )
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    logger.info(
        "analysis job handled",
        extra={"scan_id": scan_id, "outcome": outcome, "duration_ms": duration_ms},
    )
    if outcome == "busy":
        # Another worker analyses it; if that worker dies, its claim runs out and this
        # later copy analyses the scan.
        raise self.retry(countdown=settings.ANALYSIS_VISIBILITY_TIMEOUT_SECONDS)
    return outcome
