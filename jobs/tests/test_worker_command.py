"""``manage.py jobs_worker`` runs jobs in a pool of threads: they mostly wait on Gemini,
DynamoDB and S3, so a process per core would take two analyses at a time."""

import pytest
from django.core.management import CommandError, call_command

from dermalens_site.celery import app


@pytest.fixture
def worker_arguments(monkeypatch, jobs_queue):
    """The arguments the command hands to Celery's worker (which is not started here)."""
    given: list[list[str]] = []
    monkeypatch.setattr(app, "worker_main", given.append)
    return given


def celery_option(arguments: list[str], name: str) -> str:
    """The value Celery takes for ``--name``: the last one given."""
    values = [a.split("=", 1)[1] for a in arguments if a.startswith(f"--{name}=")]
    return values[-1]


def test_the_worker_runs_jobs_threads_by_default(worker_arguments, settings):
    settings.JOBS_WORKER_THREADS = 24
    call_command("jobs_worker")
    (arguments,) = worker_arguments
    assert celery_option(arguments, "pool") == "threads"
    assert celery_option(arguments, "concurrency") == "24"


def test_options_after_the_double_dash_win(worker_arguments):
    call_command("jobs_worker", "--", "--concurrency=64", "--pool=solo")
    (arguments,) = worker_arguments
    assert celery_option(arguments, "pool") == "solo"
    assert celery_option(arguments, "concurrency") == "64"


@pytest.mark.parametrize(
    "queue_url",
    [
        "not-a-url",
        "{server}/000000000000/no-such-queue",
        "http://127.0.0.1:9/000000000000/jobs",
    ],
    ids=["not-a-url", "no-such-queue", "no-answer"],
)
def test_a_queue_the_worker_cannot_use_stops_it_at_once_in_one_line(
    monkeypatch, settings, jobs_queue, moto_s3_server, queue_url
):
    # Left polling it, the worker would log errors for ever and never exit, so the
    # service manager would never restart it.
    started: list[list[str]] = []
    monkeypatch.setattr(app, "worker_main", started.append)
    settings.ANALYSIS_QUEUE_URL = queue_url.format(server=moto_s3_server)
    if "127.0.0.1:9" in queue_url:
        settings.AWS_SQS_ENDPOINT = "http://127.0.0.1:9"
    with pytest.raises(CommandError, match=r"ANALYSIS_QUEUE_URL=.* cannot be used"):
        call_command("jobs_worker")
    assert started == []


def test_a_wrong_ai_setting_stops_the_worker_at_once_in_one_line(
    monkeypatch, jobs_queue, wrong_ai_setting
):
    # Left to the first job, each analysis failed and was stored "provider_unavailable",
    # which reads as Gemini being down.
    started: list[list[str]] = []
    monkeypatch.setattr(app, "worker_main", started.append)
    wrong_ai_setting()
    with pytest.raises(CommandError, match="The AI provider for analysis cannot be made"):
        call_command("jobs_worker")
    assert started == []
