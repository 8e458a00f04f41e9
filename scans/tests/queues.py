"""The jobs queue with its dead-letter queue on moto's server, and a real Celery worker.

with analysis_queue(moto_s3_server, settings) as queues:
    ...  # settings.ANALYSIS_QUEUE_URL is queues.url
    with running_worker():
        ...  # a Celery worker thread consumes it
"""

import json
import time
import uuid
from contextlib import contextmanager
from types import SimpleNamespace

from tests.moto_clients import moto_client

MAX_RECEIVES = 2  # the redrive policy: after two failed receives, the dead-letter queue
VISIBILITY_SECONDS = 3


@contextmanager
def analysis_queue(endpoint: str, settings):
    """Fresh queues on ``endpoint``, set as ANALYSIS_QUEUE_URL, removed afterwards."""
    sqs = moto_client("sqs", endpoint)
    name = f"analysis-{uuid.uuid4().hex[:12]}"
    dead_letters = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dead_letters_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = {"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": MAX_RECEIVES}
    url = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(redrive)})[
        "QueueUrl"
    ]
    settings.ANALYSIS_QUEUE_URL = url
    settings.AWS_SQS_ENDPOINT = endpoint
    settings.ANALYSIS_WORKER_WAIT_SECONDS = 1
    settings.ANALYSIS_VISIBILITY_TIMEOUT_SECONDS = VISIBILITY_SECONDS
    try:
        yield SimpleNamespace(url=url, dead_letters=dead_letters, sqs=sqs)
    finally:
        sqs.delete_queue(QueueUrl=url)
        sqs.delete_queue(QueueUrl=dead_letters)


def messages_in(sqs, url: str) -> int:
    """Visible and in-flight messages of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(count) for count in attributes.values())


@contextmanager
def running_worker(*, concurrency: int = 1):
    """A real Celery worker in a thread, consuming the configured queue.

    One at a time per process: kombu's event loop is a process-wide global. Two jobs at
    once (two workers, as far as a job can tell) is ``concurrency=2``, a threads pool.
    """
    from celery.contrib.testing.worker import start_worker
    from kombu.asynchronous import set_event_loop

    from dermalens_site.celery import app, configure_broker

    configure_broker()
    try:
        with start_worker(
            app,
            pool="solo" if concurrency == 1 else "threads",
            concurrency=concurrency,
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=15,
        ) as worker:
            yield worker
    finally:
        set_event_loop(None)  # the next worker starts with a fresh loop


def wait_until(condition, *, seconds: float) -> bool:
    """True once ``condition()`` holds, polling for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()
