"""One account's photo work is done one request at a time, on every worker and host: an
upload (or an analysis again) that comes while another of the account's is in work is a
429 ``photo_in_progress`` with Retry-After, so that one account cannot take every photo
slot of the service. Arranged by holding the account's turn as a request does."""

import time

import pytest

from dermalens_site import photo_turns
from dermalens_site.photo_turns import take_photo_turn


@pytest.fixture(autouse=True)
def every_upload_takes_a_turn(monkeypatch):
    # The sample photo's body is smaller than an upload that takes a turn.
    monkeypatch.setattr(photo_turns, "PHOTO_TURN_MIN_BODY_BYTES", 0)


def account_of(client) -> str:
    return client.session_data["user"]["user_id"]


def upload_while_a_photo_is_in_work(upload, client):
    turn = take_photo_turn(user_id=account_of(client))
    try:
        return upload()
    finally:
        turn.end()


def test_an_upload_while_another_of_the_account_s_photos_is_in_work_is_a_429(upload, auth_client):
    refused = upload_while_a_photo_is_in_work(upload, auth_client)

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "photo_in_progress"
    assert 1 <= int(refused["Retry-After"]) <= 10
    assert auth_client.get("/api/v1/scans").json()["items"] == []
    # Its turn over, the account's next photo is taken.
    assert upload().status_code == 201


def test_an_analysis_again_waits_for_the_account_s_photo_in_work(upload, auth_client):
    scan_id = upload().json()["scan_id"]
    turn = take_photo_turn(user_id=account_of(auth_client))
    try:
        refused = auth_client.post(f"/api/v1/scans/{scan_id}/analyze")
    finally:
        turn.end()

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "photo_in_progress"


def test_another_account_s_upload_goes_on_meanwhile(upload, auth_client, register):
    from rest_framework.test import APIClient

    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")
    turn = take_photo_turn(user_id=account_of(auth_client))
    try:
        assert upload(client=other).status_code == 201
    finally:
        turn.end()


@pytest.mark.parametrize(
    ("photo", "status"),
    [(b"not a photo at all" * 100, 415), (None, 201)],
    ids=["refused", "stored"],
)
def test_the_turn_is_given_back_when_the_upload_ends(upload, auth_client, photo, status):
    assert upload(photo).status_code == status
    turn = take_photo_turn(user_id=account_of(auth_client))  # free again
    turn.end()


def test_the_turn_is_given_back_when_the_upload_fails_unexpectedly(
    upload, auth_client, monkeypatch
):
    from scans import services

    def broken(**kwargs):
        raise RuntimeError("a fault no handler knows")

    with monkeypatch.context() as patched:
        patched.setattr(services, "upload_scan", broken)
        auth_client.raise_request_exception = False
        assert upload().status_code == 500
    # Nothing is in work for the account: its next photo is taken at once.
    assert upload().status_code == 201


def test_a_refused_photo_says_when_to_send_it_in_the_body_too(upload, auth_client):
    refused = upload_while_a_photo_is_in_work(upload, auth_client)
    assert refused.json()["error"]["details"] == {
        "retry_after_seconds": int(refused["Retry-After"])
    }


def test_a_turn_its_worker_never_gave_back_ends_by_itself(upload, auth_client):
    # A worker killed mid-photo gives nothing back: the turn it took has an end.
    take_photo_turn(user_id=account_of(auth_client), now=time.time() - 3600)

    assert upload().status_code == 201


def test_a_turn_dynamodb_cannot_take_back_just_now_leaves_the_upload_answered(
    upload, auth_client, monkeypatch
):
    from dynamo.errors import Unavailable
    from dynamo.limits import LimitsTable

    def unavailable(self, key, *, holder):
        raise Unavailable("throttled")

    monkeypatch.setattr(LimitsTable, "end_turn", unavailable)

    assert upload().status_code == 201


def test_a_small_photo_is_taken_while_another_is_in_work(upload, auth_client, monkeypatch):
    # Its work is short whatever it holds (the scans' limits); only a large body or one
    # of unknown size, which may take long to read, waits for the account's turn.
    monkeypatch.setattr(photo_turns, "PHOTO_TURN_MIN_BODY_BYTES", 1024 * 1024)
    assert upload_while_a_photo_is_in_work(upload, auth_client).status_code == 201
    monkeypatch.setattr(photo_turns, "PHOTO_TURN_MIN_BODY_BYTES", 1024)
    assert upload_while_a_photo_is_in_work(upload, auth_client).status_code == 429
