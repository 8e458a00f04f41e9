"""Analysis through SQS: uploads answer 202 and a Celery worker analyses them.

The queue and its dead-letter queue live on moto's server (SQS over HTTP, as boto3 and
kombu reach the real one); DynamoDB is DynamoDB Local; the worker is a real Celery
worker (``celery.contrib.testing``) in a thread of the test process.
"""

import threading
import time

import pytest
from django.core.management import CommandError, call_command

from ai.providers import get_provider
from jobs.services import enqueue
from scans import services
from scans.tasks import analyze_scan
from scans.tests import queues

SCANS = "/api/v1/scans"


@pytest.fixture
def analysis_queue(moto_s3_server, settings):
    with queues.analysis_queue(moto_s3_server, settings) as created:
        yield created


def messages_in(analysis_queue, url: str) -> int:
    return queues.messages_in(analysis_queue.sqs, url)


def status_of(client, scan: dict) -> str:
    return client.get(f"{SCANS}/{scan['scan_id']}").json()["status"]


def wait_until(condition, *, seconds: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.fixture
def counted_provider(monkeypatch):
    """The offline analyser, slowed a little and counting its analyses."""
    provider = get_provider()
    calls: list[str] = []
    lock = threading.Lock()

    class Counting:
        name, model = provider.name, provider.model

        def analyze_skin(self, **kwargs):
            with lock:
                calls.append(kwargs["area"])
            time.sleep(0.5)  # long enough for a second worker to try the same scan
            return provider.analyze_skin(**kwargs)

    monkeypatch.setattr(services, "get_provider", lambda: Counting())
    return calls


class TestQueuedUpload:
    def test_an_upload_answers_202_pending_and_one_worker_pass_completes_it(
        self, auth_client, upload, analysis_queue
    ):
        response = upload()
        assert response.status_code == 202, response.content
        scan = response.json()
        assert scan["status"] == "pending"
        assert scan["failure_reason"] is None and scan["analysis"] is None
        assert messages_in(analysis_queue, analysis_queue.url) == 1

        with queues.running_worker():
            assert wait_until(lambda: status_of(auth_client, scan) == "complete", seconds=30)

        stored = auth_client.get(f"{SCANS}/{scan['scan_id']}").json()
        assert stored["status"] == "complete"
        assert stored["analysis"]["provider"] == "offline"
        assert messages_in(analysis_queue, analysis_queue.url) == 0
        assert messages_in(analysis_queue, analysis_queue.dead_letters) == 0

    def test_analyze_again_answers_202_and_keeps_the_old_analysis_until_the_new_one(
        self, auth_client, upload, analysis_queue
    ):
        scan = upload().json()
        # One worker for both jobs, as on a host (kombu's event loop is per process).
        with queues.running_worker():
            assert wait_until(lambda: status_of(auth_client, scan) == "complete", seconds=30)
            first = auth_client.get(f"{SCANS}/{scan['scan_id']}").json()["analysis"]

            again = auth_client.post(f"{SCANS}/{scan['scan_id']}/analyze")
            assert again.status_code == 202
            assert again.json()["status"] == "pending"
            assert again.json()["analysis"] == first

            assert wait_until(lambda: status_of(auth_client, scan) == "complete", seconds=30)
        stored = auth_client.get(f"{SCANS}/{scan['scan_id']}").json()
        assert stored["analysis"]["analyzed_at"] >= first["analyzed_at"]

    def test_past_the_quota_nothing_is_queued_and_analyze_is_429(
        self, auth_client, upload, analysis_queue, settings
    ):
        settings.AI_ANALYSES_PER_DAY = 1
        assert upload().status_code == 202
        kept = upload()
        assert kept.status_code == 201
        assert (kept.json()["status"], kept.json()["failure_reason"]) == ("pending", "quota")
        refused = auth_client.post(f"{SCANS}/{kept.json()['scan_id']}/analyze")
        assert refused.status_code == 429
        assert messages_in(analysis_queue, analysis_queue.url) == 1  # the first upload's

    def test_when_the_queue_refuses_the_scan_is_failed_and_can_be_analysed_again(
        self, auth_client, upload, analysis_queue, settings
    ):
        settings.ANALYSIS_QUEUE_URL = analysis_queue.url + "-does-not-exist"
        response = upload()
        assert response.status_code == 201
        scan = response.json()
        assert (scan["status"], scan["failure_reason"]) == ("failed", "provider_unavailable")

        settings.ANALYSIS_QUEUE_URL = analysis_queue.url
        assert auth_client.post(f"{SCANS}/{scan['scan_id']}/analyze").status_code == 202
        with queues.running_worker():
            assert wait_until(lambda: status_of(auth_client, scan) == "complete", seconds=30)


class TestWorker:
    def test_a_job_for_a_deleted_scan_is_dropped(self, auth_client, upload, analysis_queue):
        scan_id = upload().json()["scan_id"]
        assert auth_client.delete(f"{SCANS}/{scan_id}").status_code == 204
        assert messages_in(analysis_queue, analysis_queue.url) == 1

        with queues.running_worker():
            assert wait_until(
                lambda: messages_in(analysis_queue, analysis_queue.url) == 0, seconds=30
            )

        assert messages_in(analysis_queue, analysis_queue.dead_letters) == 0
        assert auth_client.get(f"{SCANS}/{scan_id}").status_code == 404

    def test_malformed_jobs_end_in_the_dead_letter_queue(self, analysis_queue, settings):
        from dermalens_site.celery import app

        enqueue(analyze_scan, user_id="../../etc", scan_id="7")  # not ids
        app.send_task("scans.no_such_job", kwargs={"scan_id": "x"})  # not a job we run

        # A rejected message comes back once the queue's visibility timeout has passed.
        analysis_queue.sqs.set_queue_attributes(
            QueueUrl=analysis_queue.url, Attributes={"VisibilityTimeout": "1"}
        )
        with queues.running_worker():
            assert wait_until(
                lambda: messages_in(analysis_queue, analysis_queue.dead_letters) == 2,
                seconds=30,
            )
        assert messages_in(analysis_queue, analysis_queue.url) == 0

    def test_two_workers_with_duplicate_jobs_analyse_a_scan_once(
        self, auth_client, upload, analysis_queue, counted_provider
    ):
        scan = upload().json()
        user_id = auth_client.session_data["user"]["user_id"]
        for _ in range(3):  # SQS may deliver twice; a client may ask twice
            enqueue(analyze_scan, user_id=user_id, scan_id=scan["scan_id"])
        with queues.running_worker(concurrency=2):
            assert wait_until(
                lambda: messages_in(analysis_queue, analysis_queue.url) == 0, seconds=30
            )

        assert counted_provider == ["face"]
        assert status_of(auth_client, scan) == "complete"
        assert messages_in(analysis_queue, analysis_queue.dead_letters) == 0

    def test_the_command_refuses_to_start_without_a_queue(self, settings):
        settings.ANALYSIS_QUEUE_URL = None
        with pytest.raises(CommandError, match="ANALYSIS_QUEUE_URL"):
            call_command("jobs_worker")


def signed_in(client, dynamodb_calls) -> None:
    """The worker's copy of the account is fresh: the calls counted next are the upload's."""
    assert client.get("/api/v1/users/me").status_code == 200
    dynamodb_calls.clear()


class TestQueuedUploadWrites:
    def test_a_queued_upload_stores_the_scan_and_counts_its_analysis_in_one_write(
        self, auth_client, upload, analysis_queue, dynamodb_calls
    ):
        signed_in(auth_client, dynamodb_calls)
        assert upload().status_code == 202

        assert dynamodb_calls == ["TransactWriteItems"]

    def test_past_the_quota_the_upload_is_kept_without_counting_beyond_it(
        self, auth_client, upload, analysis_queue, settings, dynamodb_calls
    ):
        settings.AI_ANALYSES_PER_DAY = 2
        signed_in(auth_client, dynamodb_calls)
        assert [upload().status_code for _ in range(3)] == [202, 202, 201]

        # The third: refused as a whole for the quota, then stored pending without it.
        assert dynamodb_calls == ["TransactWriteItems"] * 4
        assert messages_in(analysis_queue, analysis_queue.url) == 2
        listed = auth_client.get(SCANS).json()["items"]
        assert [(s["status"], s["failure_reason"]) for s in listed] == [
            ("pending", "quota"),
            ("pending", None),
            ("pending", None),
        ]
