"""The job framework: Celery, with Amazon SQS (kombu's SQS transport) as its broker.

    celery -A dermalens_site worker ...        # or: python manage.py jobs_worker

Every piece of work that must not run inside an HTTP request is a Celery task (an
analysis, an erasure, deleting a chat session, ...), defined with ``shared_task`` in its
app's ``tasks.py`` and started through ``jobs.enqueue``. The broker is the one SQS queue
named by ``ANALYSIS_QUEUE_URL``; without it ``jobs.enqueue`` runs the task in the calling
process. The broker settings are read from Django's settings when a job is sent or a
worker starts (``configure_broker``), never at import, so tests can point them at moto.

Delivery: SQS delivers at least once, so every task is safe to run twice. A message is
deleted only once its task has returned (``task_acks_late``); a task that raises, or a
worker that dies, leaves it to reappear after the visibility timeout, and the queue's
redrive policy moves it to the dead-letter queue after a few failures. Only JSON crosses
the queue (never pickle), and no result backend is used: a job's state lives in DynamoDB
(``dynamo.jobs``, or the scan's own status for an analysis).
"""

import os
from typing import Any
from urllib.parse import urlsplit

from celery import Celery
from kombu.transport import SQS

from dermalens_site.shared_clients import SharedClients

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dermalens_site.settings")

# The name Celery knows the queue by; the URL comes from ANALYSIS_QUEUE_URL.
JOBS_QUEUE = "dermalens-jobs"
# A local SQS server (moto) accepts any credentials; botocore needs some to sign.
LOCAL_CREDENTIALS = ("dermalenslocal", "dermalenslocal")

app = Celery("dermalens")
app.conf.update(
    task_default_queue=JOBS_QUEUE,
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_store_errors_even_if_ignored=False,
    # Acknowledge (delete the message) after the task, not before: a worker that dies
    # mid-job leaves the message to come back. A task that raises is rejected, which
    # SQS turns into a redelivery (and, after maxReceiveCount, the dead-letter queue).
    task_acks_late=True,
    task_acks_on_failure_or_timeout=False,
    task_reject_on_worker_lost=True,
    # One message in hand per worker process: a long job never holds others hidden.
    worker_prefetch_multiplier=1,
    # SQS has no broadcast: remote control, events, gossip and mingle would create
    # queues (and need rights the app's role does not have).
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    task_send_sent_event=False,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
app.autodiscover_tasks()

_configured: tuple | None = None
_sqs_clients = SharedClients()


class SharedClientChannel(SQS.Channel):
    """kombu's SQS channel, with one boto3 client per process for each queue's settings.

    kombu makes a client for every broker connection, and Celery keeps a pool of them
    (``broker_pool_limit``, 10) in each process: a burst of uploads just after a web
    worker started made ten clients at once, about 0.1 s of CPU each (a boto3 session
    reads botocore's service models from disk), on the worker that was answering other
    requests. boto3 clients are thread-safe, so one serves every connection.
    """

    def new_sqs_client(self, region, access_key_id, secret_access_key, session_token=None):
        key = (
            region,
            access_key_id,
            secret_access_key,
            session_token,
            self.is_secure,
            self.endpoint_url,
            repr(self.transport_options.get("client-config")),
        )
        return _sqs_clients.get(
            key,
            lambda: super(SharedClientChannel, self).new_sqs_client(
                region, access_key_id, secret_access_key, session_token
            ),
        )


class SharedClientTransport(SQS.Transport):
    Channel = SharedClientChannel


# Celery's name for it: kombu's SQS transport with the shared client.
TRANSPORT = f"{__name__}:SharedClientTransport"


def broker_settings() -> tuple[str, dict]:
    """The broker URL and transport options for the current Django settings."""
    from django.conf import settings

    queue: dict[str, str] = {"url": settings.ANALYSIS_QUEUE_URL or ""}
    options: dict = {
        "region": settings.AWS_REGION,
        # The queue exists already (CloudFormation): kombu neither lists nor creates
        # queues, and the queue's own VisibilityTimeout applies.
        "predefined_queues": {JOBS_QUEUE: queue},
        "wait_time_seconds": settings.ANALYSIS_WORKER_WAIT_SECONDS,
        "polling_interval": 0,  # long polling already waits; no extra sleep between
    }
    endpoint = settings.AWS_SQS_ENDPOINT
    if not endpoint:
        # On AWS: boto3's default credential chain (the host's IAM role), no keys here.
        return "sqs://", options
    parts = urlsplit(endpoint)
    key, secret = LOCAL_CREDENTIALS
    queue.update(access_key_id=key, secret_access_key=secret)
    options["is_secure"] = parts.scheme == "https"
    return f"sqs://{key}:{secret}@{parts.hostname}:{parts.port}", options


def make_sqs_client() -> None:
    """Make this process's SQS client now, sending nothing: the first job queued by a
    fresh web worker then does not hold the worker while botocore reads its models."""
    jobs_queue_client()


def jobs_queue_client() -> Any:
    """The process's SQS client for the jobs queue, as the broker sends and receives
    with it (made once, kept in ``_sqs_clients``), for the current settings."""
    configure_broker()
    with app.connection_for_write() as connection:
        return connection.default_channel.sqs(queue=JOBS_QUEUE)


def configure_broker() -> None:
    """Point Celery at the configured queue; cheap when nothing changed since last time."""
    global _configured
    broker_url, options = broker_settings()
    wanted = (broker_url, repr(sorted(options.items())))
    if wanted == _configured:
        return
    app.conf.update(
        broker_url=broker_url, broker_transport=TRANSPORT, broker_transport_options=options
    )
    # Connections (and SQS clients) made for the previous settings must not be reused.
    app.amqp._producer_pool = None
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    _sqs_clients.clear()
    _configured = wanted
