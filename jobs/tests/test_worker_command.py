"""``manage.py jobs_worker`` runs jobs in a pool of threads: they mostly wait on Gemini,
DynamoDB and S3, so a process per core would take two analyses at a time."""

import pytest
from django.core.management import call_command

from dermalens_site.celery import app


@pytest.fixture
def worker_arguments(monkeypatch, settings):
    """The arguments the command hands to Celery's worker (which is not started here)."""
    settings.ANALYSIS_QUEUE_URL = "http://127.0.0.1:9/000000000000/jobs"
    given: list[list[str]] = []
    monkeypatch.setattr(app, "worker_main", given.append)
    monkeypatch.setattr("jobs.management.commands.jobs_worker.configure_broker", lambda: None)
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
