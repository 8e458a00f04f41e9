"""Erasure as a job: the account is unusable from the 202 on, nothing written for it
afterwards survives, and a worker on the SQS queue erases even a large account.
"""

import threading

from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from privacy.tests.helpers import (
    ME,
    REFRESH,
    SAMPLE_FACE,
    assert_nothing_left,
    erase,
    items_of,
    local_files_of,
    log_in,
)
from scans import storage
from scans.tests import queues
from scans.tests.queues import wait_until
from tests.seeding import seed_scans


class TestNothingOutrunsTheErasure:
    def test_an_upload_whose_storage_write_ends_after_the_erasure_leaves_nothing(
        self, new_account, monkeypatch
    ):
        account = new_account()
        reached, release = threading.Event(), threading.Event()
        save_scan_file = storage.save_scan_file

        def slow_save(key: str, data: bytes) -> None:
            reached.set()
            assert release.wait(30)
            save_scan_file(key, data)

        monkeypatch.setattr(storage, "save_scan_file", slow_save)
        answers = {}

        def upload() -> None:
            image = SimpleUploadedFile("face.jpg", SAMPLE_FACE.read_bytes(), "image/jpeg")
            answers["upload"] = account.client.post(
                "/api/v1/scans", {"image": image}, format="multipart"
            )

        uploading = threading.Thread(target=upload)
        uploading.start()
        try:
            assert reached.wait(30)  # the upload is authenticated and storing its image
            eraser = APIClient()
            eraser.credentials(HTTP_AUTHORIZATION=f"Bearer {account.access}")
            erased = eraser.delete(ME, {"password": account.password}, format="json")
            assert erased.status_code == 202, erased.content
        finally:
            release.set()
            uploading.join(30)

        assert answers["upload"].status_code == 401
        assert answers["upload"].json()["error"]["code"] == "user_inactive"
        assert_nothing_left(account)


class TestErasureOnAWorker:
    def test_an_account_of_200_scans_is_closed_at_the_202_and_erased_by_a_worker(
        self, new_account, jobs_queue
    ):
        account = new_account()
        scan_ids = seed_scans(account.user_id, 200)
        for scan_id in scan_ids[:3]:
            storage.save_scan_file(storage.image_key(account.user_id, scan_id), b"jpeg")

        response = erase(account)

        assert response.status_code == 202, response.content
        assert response.json()["status"] == "erasing"
        # Unusable from the first moment, while the job still waits in the queue.
        assert log_in(account).status_code == 401
        assert account.client.get(ME).status_code == 401
        refreshed = APIClient().post(REFRESH, {"refresh": account.refresh}, format="json")
        assert refreshed.status_code == 401
        assert len(items_of(account.user_id)) > 200
        assert queues.messages_in(jobs_queue.sqs, jobs_queue.url) == 1

        with queues.running_worker():
            assert wait_until(lambda: not items_of(account.user_id), seconds=60)

        assert_nothing_left(account)
        assert local_files_of(account.user_id) == []
        assert queues.messages_in(jobs_queue.sqs, jobs_queue.url) == 0
        assert queues.messages_in(jobs_queue.sqs, jobs_queue.dead_letters) == 0

    def test_when_the_queue_refuses_the_erasure_the_account_stays_usable_to_retry(
        self, new_account, jobs_queue, settings
    ):
        account = new_account()
        settings.ANALYSIS_QUEUE_URL = jobs_queue.url + "-does-not-exist"
        assert erase(account).status_code == 503
        assert account.client.get(ME).status_code == 200
        settings.ANALYSIS_QUEUE_URL = jobs_queue.url
        assert erase(account).status_code == 202
