"""Analysis through SQS: uploads answer 202 and ``analysis_worker`` analyses them.

The queue and its dead-letter queue live on moto's server (SQS over HTTP, as boto3
reaches the real one); DynamoDB is DynamoDB Local; the worker is the real loop.
"""

import json
import threading
import time

import pytest
from django.core.management import CommandError, call_command

from ai.providers import get_provider
from scans import services
from scans.queue import AnalysisWorker, enqueue_analysis
from scans.tests import queues

SCANS = "/api/v1/scans"


@pytest.fixture
def analysis_queue(moto_s3_server, settings):
    with queues.analysis_queue(moto_s3_server, settings) as created:
        yield created


def messages_in(analysis_queue, url: str) -> int:
    return queues.messages_in(analysis_queue.sqs, url)


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

        call_command("analysis_worker", "--once", verbosity=0)

        stored = auth_client.get(f"{SCANS}/{scan['scan_id']}").json()
        assert stored["status"] == "complete"
        assert stored["analysis"]["provider"] == "offline"
        assert messages_in(analysis_queue, analysis_queue.url) == 0
        assert messages_in(analysis_queue, analysis_queue.dead_letters) == 0

    def test_analyze_again_answers_202_and_keeps_the_old_analysis_until_the_new_one(
        self, auth_client, upload, analysis_queue
    ):
        scan_id = upload().json()["scan_id"]
        AnalysisWorker().run(once=True)
        first = auth_client.get(f"{SCANS}/{scan_id}").json()["analysis"]

        again = auth_client.post(f"{SCANS}/{scan_id}/analyze")
        assert again.status_code == 202
        assert again.json()["status"] == "pending"
        assert again.json()["analysis"] == first

        assert AnalysisWorker().run(once=True) == 1
        stored = auth_client.get(f"{SCANS}/{scan_id}").json()
        assert stored["status"] == "complete"
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
        AnalysisWorker().run(once=True)
        assert auth_client.get(f"{SCANS}/{scan['scan_id']}").json()["status"] == "complete"


class TestWorker:
    def test_a_message_for_a_deleted_scan_is_dropped(self, auth_client, upload, analysis_queue):
        scan_id = upload().json()["scan_id"]
        assert auth_client.delete(f"{SCANS}/{scan_id}").status_code == 204

        worker = AnalysisWorker()
        [message] = worker.receive(1)
        assert worker.handle(message) == "scan_gone"

        assert messages_in(analysis_queue, analysis_queue.url) == 0
        assert messages_in(analysis_queue, analysis_queue.dead_letters) == 0
        assert auth_client.get(f"{SCANS}/{scan_id}").status_code == 404

    def test_malformed_messages_end_in_the_dead_letter_queue(self, analysis_queue, settings):
        settings.ANALYSIS_VISIBILITY_TIMEOUT_SECONDS = 1
        poison = [
            "not json",
            json.dumps({"kind": "something_else"}),
            json.dumps({"kind": "analyze_scan", "user_id": "../../etc", "scan_id": 7}),
        ]
        for body in poison:
            analysis_queue.sqs.send_message(QueueUrl=analysis_queue.url, MessageBody=body)
        worker = AnalysisWorker(batch_size=10)

        def all_dead_lettered() -> bool:
            worker.run(once=True)
            return messages_in(analysis_queue, analysis_queue.dead_letters) == len(poison)

        assert wait_until(all_dead_lettered, seconds=20, step=0)
        dead = analysis_queue.sqs.receive_message(
            QueueUrl=analysis_queue.dead_letters, MaxNumberOfMessages=10
        )["Messages"]
        assert sorted(m["Body"] for m in dead) == sorted(poison)
        assert messages_in(analysis_queue, analysis_queue.url) == 0

    def test_two_workers_with_duplicate_messages_analyse_a_scan_once(
        self, auth_client, upload, analysis_queue, counted_provider
    ):
        scan = upload().json()
        user_id = auth_client.session_data["user"]["user_id"]
        for _ in range(3):  # SQS may deliver twice; a client may ask twice
            enqueue_analysis(user_id=user_id, scan_id=scan["scan_id"])
        workers = [AnalysisWorker(), AnalysisWorker()]
        threads = [threading.Thread(target=w.run) for w in workers]
        for thread in threads:
            thread.start()
        try:
            assert wait_until(
                lambda: messages_in(analysis_queue, analysis_queue.url) == 0, seconds=30
            )
        finally:
            for worker in workers:
                worker.stop()
            for thread in threads:
                thread.join(timeout=10)

        assert counted_provider == ["face"]
        assert auth_client.get(f"{SCANS}/{scan['scan_id']}").json()["status"] == "complete"
        assert messages_in(analysis_queue, analysis_queue.dead_letters) == 0

    def test_the_command_refuses_to_start_without_a_queue(self, settings):
        settings.ANALYSIS_QUEUE_URL = None
        with pytest.raises(CommandError, match="ANALYSIS_QUEUE_URL"):
            call_command("analysis_worker", "--once")
