"""Run jobs from the queue (ANALYSIS_QUEUE_URL): a Celery worker, until stopped.

    python manage.py jobs_worker                         # JOBS_WORKER_THREADS threads
    python manage.py jobs_worker -- --concurrency 64     # any `celery worker` option

Every job (analyses, erasures, chat session deletions, ...) comes through the one SQS
queue; run as many workers, on as many hosts, as it needs. The jobs mostly wait (an
analysis on Gemini for seconds, an erasure on DynamoDB and S3), so a worker runs them in
a pool of threads (``JOBS_WORKER_THREADS``, Celery's ``threads`` pool), not a process
per job: a process per core would take two analyses at a time and leave the rest of a
burst queued behind their waits. The computing parts (decoding, the offline measures)
release the GIL in Pillow, OpenCV, numpy and LiteRT. SIGTERM is Celery's warm
shutdown: the jobs in hand are finished (a job cut short comes back through SQS).

Before it starts, the worker asks SQS for the queue once: a URL that names no queue, a
queue its role may not read, or an SQS that does not answer stops the command with one
line and a non-zero exit, for the service manager to see; a worker left polling a queue
it cannot use would only log errors, for ever.
"""

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dermalens_site.celery import JOBS_QUEUE, app, jobs_queue_client
from dermalens_site.commands import build_ai_providers

# SQS has no broadcast: these worker features would create queues of their own.
WORKER_ARGUMENTS = (
    "worker",
    f"--queues={JOBS_QUEUE}",
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
)


class Command(BaseCommand):
    help = "Run the jobs queued in SQS (ANALYSIS_QUEUE_URL) with a Celery worker."

    def add_arguments(self, parser):
        parser.add_argument(
            "celery_options",
            nargs="*",
            help="options for `celery worker`, after --, e.g. -- --concurrency 4",
        )

    def handle(self, *args, celery_options: list[str], **options):
        if not settings.ANALYSIS_QUEUE_URL:
            raise CommandError(
                "ANALYSIS_QUEUE_URL is not set: jobs run in the web process and there is "
                "nothing to consume. Set it to the SQS queue's URL."
            )
        check_queue(settings.ANALYSIS_QUEUE_URL)  # the broker configured on the way
        build_ai_providers("analysis")  # the jobs analyse photos and draft plans
        level = "WARNING" if options["verbosity"] == 0 else "INFO"
        pool = ["--pool=threads", f"--concurrency={settings.JOBS_WORKER_THREADS}"]
        # Options given after `--` come last, so they win over these defaults.
        app.worker_main([*WORKER_ARGUMENTS, f"--loglevel={level}", *pool, *celery_options])


def check_queue(url: str) -> None:
    """Ask SQS for the queue at ``url`` with the client the worker will use; a
    ``CommandError`` saying why when it cannot be used."""
    try:
        jobs_queue_client().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    except (ClientError, BotoCoreError) as err:
        raise CommandError(
            f"The jobs queue ANALYSIS_QUEUE_URL={url} cannot be used: {err}. Check the "
            "URL, the region (AWS_REGION) and the role's rights on the queue."
        ) from err
