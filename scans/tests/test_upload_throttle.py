"""The upload limit is one allowance per account, shared by every worker and host."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient


@pytest.fixture
def upload_rate(throttle_rates):
    return lambda rate: throttle_rates(uploads=rate)


def test_uploads_are_counted_in_dynamodb_not_in_each_workers_memory(upload_rate, upload):
    upload_rate("2/hour")
    statuses = []
    for _ in range(3):
        # Each upload as if a fresh worker served it: nothing remembered in its memory.
        cache.clear()
        statuses.append(upload().status_code)
    assert statuses == [201, 201, 429]


def test_one_accounts_uploads_do_not_spend_anothers(upload_rate, upload, register):
    upload_rate("1/hour")
    assert upload().status_code == 201
    assert upload().status_code == 429
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")
    assert upload(client=other).status_code == 201


def test_analyses_asked_for_again_are_limited_per_account(throttle_rates, upload, auth_client):
    # A failure the AI caused is given back to the day's allowance: without this limit a
    # photo that fails every time could be sent to Gemini without end.
    throttle_rates(analyses_again="2/hour")
    scan_id = upload().json()["scan_id"]
    statuses = [auth_client.post(f"/api/v1/scans/{scan_id}/analyze").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert upload().status_code == 201  # uploads keep their own allowance
