"""Start work outside the request, and record how far a recorded job got.

    enqueue(send_email, to=address, template="password_reset")   # any @shared_task
    job = start_job(user_id=u, kind="delete_chat_session", subject_id=s, task=delete_session)
    with job_progress(user_id=u, job_id=j) as advance:             # inside the task
        advance(200)                                               # 200 more items done

``enqueue`` sends the task to the jobs queue (``ANALYSIS_QUEUE_URL``) for a Celery
worker (``manage.py jobs_worker``); with no queue configured it runs the task here and
now, in the calling process, as development and the tests without SQS do. A task is
written once, with ``celery.shared_task``, takes JSON-able keyword arguments only, and
must be safe to run twice (SQS delivers at least once).

``start_job`` also records the job in the owner's partition of the jobs table, so a
client can follow it (``GET /api/v1/jobs/{job_id}``); the task receives ``job_id`` and
``user_id`` and reports through ``job_progress``.
"""

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from celery import Task
from django.conf import settings
from kombu.exceptions import OperationalError
from ulid import ULID

from ai.analysis import now_iso
from dermalens_site.celery import configure_broker
from dermalens_site.errors import ServiceUnavailable
from dynamo.errors import Unavailable
from dynamo.jobs import JOB_RECORD_DAYS, Job, jobs_table

logger = logging.getLogger("dermalens.jobs")

SECONDS_PER_DAY = 24 * 60 * 60


class QueueUnavailable(ServiceUnavailable):
    default_code = "queue_unavailable"
    default_message = "The job queue is unavailable right now; please retry shortly."


def jobs_are_queued() -> bool:
    """True when jobs go to SQS for a worker; False when they run in the calling process."""
    return bool(settings.ANALYSIS_QUEUE_URL)


def enqueue(task: Task, /, **kwargs: Any) -> None:
    """Run ``task(**kwargs)`` as a job: on a worker through SQS, or here without a queue.

    ``QueueUnavailable`` (a 503) when SQS refuses the message; without a queue, the
    task's own exception.
    """
    if not jobs_are_queued():
        task.apply(kwargs=kwargs, throw=True)
        return
    configure_broker()
    try:
        task.apply_async(kwargs=kwargs)
    except (OperationalError, ClientError, BotoCoreError) as err:
        logger.error("job not queued", extra={"task": task.name, "error": type(err).__name__})
        raise QueueUnavailable() from err


def start_job(
    *,
    user_id: str,
    kind: str,
    task: Task,
    subject_id: str | None = None,
    on_recorded: Callable[[Job], None] | None = None,
    **kwargs: Any,
) -> Job:
    """Record a job for ``user_id`` and start ``task(user_id=..., job_id=..., **kwargs)``.

    ``on_recorded(job)`` runs once the job is recorded, before it is handed over (to note
    the job on what it works on). Returns the job as recorded after it was handed over:
    ``queued`` on a worker's queue, or already ``done`` when it ran in this process.
    """
    timestamp = now_iso()
    job = Job(
        user_id=user_id,
        job_id=str(ULID()),
        kind=kind,
        status="queued",
        created_at=timestamp,
        updated_at=timestamp,
        expires_at=int(time.time()) + JOB_RECORD_DAYS * SECONDS_PER_DAY,
        subject_id=subject_id,
    )
    jobs = jobs_table()
    jobs.create(job)
    if on_recorded is not None:
        on_recorded(job)
    try:
        enqueue(task, user_id=user_id, job_id=job.job_id, **kwargs)
    except QueueUnavailable:
        jobs.record(
            user_id, job.job_id, status="failed", updated_at=now_iso(), error="queue_unavailable"
        )
        raise
    return jobs.get(user_id, job.job_id) or job


def under_way(job: Job) -> bool:
    """Queued or running, and moved (queued, started, or reported progress) within twice
    the visibility timeout: a job whose worker died comes back on the queue and moves
    again within one; one that has not moved since is lost."""
    if job.status not in ("queued", "running"):
        return False
    still = datetime.now(UTC) - datetime.fromisoformat(job.updated_at)
    return still.total_seconds() < 2 * int(settings.ANALYSIS_VISIBILITY_TIMEOUT_SECONDS)


@contextlib.contextmanager
def job_progress(*, user_id: str, job_id: str) -> Iterator[Callable[[int], None]]:
    """Mark the job running, count what the block reports done, then mark it done.

    An exception marks it ``failed`` and goes on up: on a worker, the message then comes
    back after the visibility timeout and the job runs again (and says ``running``).
    """
    jobs = jobs_table()
    jobs.record(user_id, job_id, status="running", updated_at=now_iso(), done_items=0)
    done = 0

    def advance(items: int) -> None:
        nonlocal done
        done += items
        jobs.record(user_id, job_id, status="running", updated_at=now_iso(), done_items=done)

    try:
        yield advance
    except Exception as err:
        error = "unavailable" if isinstance(err, Unavailable) else "internal_error"
        with contextlib.suppress(Exception):
            jobs.record(user_id, job_id, status="failed", updated_at=now_iso(), error=error)
        raise
    jobs.record(user_id, job_id, status="done", updated_at=now_iso(), done_items=done)
