"""Scans analysed by Gemini: the real google-genai client against the fake Gemini server.

Whatever the provider does, the upload is stored and ends with the right status.
"""

import pytest

from dynamo.scans import scans_table
from tests.fake_gemini import FakeResponse, valid_analysis_answer

SCANS = "/api/v1/scans"


def out_of_range() -> FakeResponse:
    answer = valid_analysis_answer()
    answer["metrics"]["acne"]["score"] = 140
    return FakeResponse.json_answer(answer)


@pytest.fixture
def gemini_uploads(gemini_settings, fake_gemini, auth_client, upload):
    def send(*script: FakeResponse):
        for response in script:
            fake_gemini.enqueue(response)
        return upload()

    return send


def test_a_gemini_analysis_is_validated_and_stored(gemini_uploads, auth_client, fake_gemini):
    response = gemini_uploads(FakeResponse.json_answer(valid_analysis_answer()))
    assert response.status_code == 201
    scan = response.json()
    assert scan["status"] == "complete"
    assert scan["analysis"]["provider"] == "gemini"
    assert scan["analysis"]["heuristic"] is False
    assert len(fake_gemini.requests) == 1
    stored = auth_client.get(f"{SCANS}/{scan['scan_id']}").json()
    assert stored["analysis"] == scan["analysis"]


def test_a_429_then_success_is_retried_and_completes(gemini_uploads, fake_gemini):
    response = gemini_uploads(
        FakeResponse.status(429), FakeResponse.json_answer(valid_analysis_answer())
    )
    assert response.json()["status"] == "complete"
    assert len(fake_gemini.requests) == 2


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ([FakeResponse.status(500)] * 3, "provider_unavailable"),
        ([FakeResponse.status(429)] * 3, "rate_limited"),
        ([FakeResponse.malformed()], "invalid_response"),
        ([out_of_range()], "invalid_response"),
        ([FakeResponse.safety_block()], "safety_block"),
        ([FakeResponse.safety_block(in_candidate=True)], "safety_block"),
    ],
    ids=["500", "429-always", "malformed-json", "out-of-range", "prompt-blocked", "answer-blocked"],
)
def test_a_failed_analysis_keeps_the_scan_failed_with_its_reason(
    gemini_uploads, auth_client, script, reason
):
    response = gemini_uploads(*script)
    assert response.status_code == 201
    scan = response.json()
    assert scan["status"] == "failed"
    assert scan["failure_reason"] == reason
    assert scan["analysis"] is None
    user_id = auth_client.session_data["user"]["user_id"]
    assert scans_table().get(user_id, scan["scan_id"]).status == "failed"
    assert auth_client.get(scan["image_url"]).status_code == 200


def test_a_timeout_fails_the_analysis_and_analyze_completes_it_later(
    gemini_uploads, auth_client, settings
):
    settings.GEMINI_TIMEOUT_SECONDS = 1.0
    settings.GEMINI_MAX_ATTEMPTS = 1
    from ai.providers import get_provider

    get_provider.cache_clear()
    response = gemini_uploads(FakeResponse.timeout(3))
    scan = response.json()
    assert scan["status"] == "failed"
    assert scan["failure_reason"] == "timeout"
    again = auth_client.post(f"{SCANS}/{scan['scan_id']}/analyze")
    assert again.status_code == 200
    assert again.json()["status"] == "complete"
    assert again.json()["failure_reason"] is None


def test_a_failed_analysis_is_listed_for_the_ops_dashboard(gemini_uploads):
    from dynamo.audit import audit_table

    scan = gemini_uploads(FakeResponse.malformed()).json()
    failures = audit_table().recent_failed_analyses(days=1, limit=500)
    logged = [f for f in failures if f.scan_id == scan["scan_id"]]
    assert [f.reason for f in logged] == ["invalid_response"]
