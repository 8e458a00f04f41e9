"""The analysis job (``services.analyze_queued_scan``) on its own: what it writes, what it
refuses and why, and how few DynamoDB calls it makes.

The job runs once per queued upload, on a worker that may get a message twice; the
claim is the write that makes any number of workers analyse a scan once.
"""

import time

import pytest

from dynamo.client import get_client
from dynamo.scans import scans_table
from dynamo.tests.factories import a_scan, new_id, new_user_id
from dynamo.users import users_table
from scans import services, storage
from tests.photos import astronaut, encode

CLAIM_SECONDS = 600


@pytest.fixture
def pending_scan():
    """A stored photo of a face, waiting for its analysis as a queued upload does."""
    user_id, scan_id = new_user_id(), new_id()
    scan = a_scan(
        user_id, scan_id=scan_id, status="pending", image_key=storage.image_key(user_id, scan_id)
    )
    storage.save_scan_file(scan.image_key, encode(astronaut()))
    scans_table().create(scan)
    return scan


def run_job(scan) -> str:
    return services.analyze_queued_scan(
        user_id=scan.user_id, scan_id=scan.scan_id, claim_seconds=CLAIM_SECONDS
    )


def stored_item(scan) -> dict:
    return get_client().get_item(
        TableName=scans_table().name,
        Key={"user_id": {"S": scan.user_id}, "scan_id": {"S": scan.scan_id}},
        ConsistentRead=True,
    )["Item"]


def claim(scan, *, until: int) -> None:
    now = int(time.time())
    scans_table().claim_for_analysis(
        scan.user_id, scan.scan_id, claim_id="another-worker", now=now, until=until
    )


def test_a_job_reads_the_account_claims_and_records_in_three_calls(pending_scan, dynamodb_calls):
    assert run_job(pending_scan) == "complete"

    assert dynamodb_calls == ["GetItem", "UpdateItem", "UpdateItem"]
    item = stored_item(pending_scan)
    assert item["status"] == {"S": "complete"}
    assert "analysis" in item
    # The claim ended with the write of the analysis.
    assert "claim_id" not in item and "claimed_until" not in item


def test_the_same_job_again_is_already_done_and_writes_nothing(pending_scan, dynamodb_calls):
    run_job(pending_scan)
    analysed = stored_item(pending_scan)
    dynamodb_calls.clear()

    assert run_job(pending_scan) == "already_done"

    assert dynamodb_calls == ["GetItem", "UpdateItem"]  # the refused claim
    assert stored_item(pending_scan) == analysed


def test_a_job_for_a_deleted_scan_says_so(pending_scan):
    scans_table().delete(pending_scan.user_id, pending_scan.scan_id)

    assert run_job(pending_scan) == "scan_gone"


def test_a_scan_a_live_worker_holds_is_busy_and_its_claim_stays(pending_scan):
    claim(pending_scan, until=int(time.time()) + CLAIM_SECONDS)

    assert run_job(pending_scan) == "busy"

    item = stored_item(pending_scan)
    assert item["status"] == {"S": "pending"}
    assert item["claim_id"] == {"S": "another-worker"}


def test_a_claim_that_ran_out_is_taken_over_and_the_scan_analysed(pending_scan):
    claim(pending_scan, until=int(time.time()) - 1)  # that worker died

    assert run_job(pending_scan) == "complete"

    assert "claim_id" not in stored_item(pending_scan)


def test_a_scan_failed_past_its_quota_is_not_analysed_by_a_stale_message(pending_scan):
    services.record(
        pending_scan, status="pending", failure_reason=services.QUOTA_REASON, analysis=None
    )

    assert run_job(pending_scan) == "already_done"


def test_an_account_being_erased_has_nothing_analysed_or_claimed(pending_scan, dynamodb_calls):
    users_table().start_erasure(pending_scan.user_id, started_at="2024-03-02T09:00:00.000Z")
    dynamodb_calls.clear()

    assert run_job(pending_scan) == "user_gone"

    assert dynamodb_calls == ["GetItem"]
    item = stored_item(pending_scan)
    assert item["status"] == {"S": "pending"} and "claim_id" not in item


def test_a_missing_image_fails_the_scan_and_ends_the_claim(pending_scan):
    storage.delete_scan_files([pending_scan.image_key])

    assert run_job(pending_scan) == "image_missing"

    item = stored_item(pending_scan)
    assert item["status"] == {"S": "failed"}
    assert item["failure_reason"] == {"S": "unreadable_image"}
    assert "claim_id" not in item


def test_a_scan_changed_while_analysed_keeps_the_change_and_loses_the_claim(
    pending_scan, monkeypatch
):
    analyse = services.analyze_image

    def queued_again_meanwhile(*, user, scan, image_jpeg):
        scans_table().update(
            scan.user_id, scan.scan_id, changes={"notes": "edited"}, expected_version=None
        )
        return analyse(user=user, scan=scan, image_jpeg=image_jpeg)

    monkeypatch.setattr(services, "analyze_image", queued_again_meanwhile)

    assert run_job(pending_scan) == "scan_changed"

    item = stored_item(pending_scan)
    assert item["status"] == {"S": "pending"}
    assert item["notes"] == {"S": "edited"}
    # Released, so the newer message can claim it.
    assert "claim_id" not in item
