"""Every AI path ends every provider failure in its documented outcome, never a 500.

The real google-genai client talks to the fake Gemini server, which plays what the real
API does when it refuses or fails: 400 INVALID_ARGUMENT, 404 NOT_FOUND (a retired model
name), 403, 500 and 503 after retries, no answer in time, a body that is not JSON, JSON
that is not an answer. Over HTTP against DynamoDB Local:

- a scan is stored ``failed`` with its reason code;
- a plan is the rules' own, with the note ``assistant_unavailable``;
- chat, plain or streamed, is 503 ``assistant_unavailable`` and keeps the message.

The provider's own error message reaches the log, never the client.
"""

import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from scans.tests.conftest import SAMPLE_FACE
from tests.fake_gemini import ERRORS, FakeResponse

ATTEMPTS = 2
CLIENT_TIMEOUT_SECONDS = 0.5


def provider_message(status_code: int) -> str:
    return ERRORS[status_code][1]


# name -> (what the server answers, the reason code, the provider's message or None)
FAILURES = {
    "400 INVALID_ARGUMENT": (
        [FakeResponse.status(400)],
        "provider_rejected",
        provider_message(400),
    ),
    "404 NOT_FOUND (retired model)": (
        [FakeResponse.status(404)],
        "provider_rejected",
        provider_message(404),
    ),
    "403 PERMISSION_DENIED": (
        [FakeResponse.status(403)],
        "provider_rejected",
        provider_message(403),
    ),
    "500 after retries": (
        [FakeResponse.status(500)] * ATTEMPTS,
        "provider_unavailable",
        provider_message(500),
    ),
    "503 after retries": (
        [FakeResponse.status(503)] * ATTEMPTS,
        "provider_unavailable",
        provider_message(503),
    ),
    "timeout": (
        [FakeResponse.timeout(3)] * ATTEMPTS,
        "timeout",
        None,
    ),
    "502 HTML page": (
        [FakeResponse.not_json(502)] * ATTEMPTS,
        "provider_unavailable",
        None,
    ),
    "200 body not JSON": ([FakeResponse.not_json(200)], "invalid_response", None),
    "200 JSON not an answer": ([FakeResponse.shapeless()], "invalid_response", None),
}
CASES = pytest.mark.parametrize(
    ("script", "reason", "message"), list(FAILURES.values()), ids=list(FAILURES)
)


@pytest.fixture
def failing_gemini(gemini_settings, fake_gemini, caplog):
    """The Gemini provider with quick retries and a short timeout; ``script`` it fails with."""
    from ai.providers import forget_providers

    gemini_settings.GEMINI_MAX_ATTEMPTS = ATTEMPTS
    gemini_settings.GEMINI_TIMEOUT_SECONDS = CLIENT_TIMEOUT_SECONDS
    forget_providers()
    caplog.set_level(logging.WARNING)

    def fail_with(script: list[FakeResponse]) -> None:
        fake_gemini.enqueue(*script)

    return fail_with


def assert_message_only_in_the_log(response, caplog, message: str | None) -> None:
    assert b"Traceback" not in response.content
    if message is not None:
        assert message.encode() not in response.content
        assert any(message in record.getMessage() for record in caplog.records)


@CASES
def test_a_scan_whose_analysis_fails_is_stored_failed_with_its_reason(
    failing_gemini, auth_client, fake_gemini, caplog, script, reason, message
):
    failing_gemini(script)
    image = SimpleUploadedFile("face.jpg", SAMPLE_FACE.read_bytes(), content_type="image/jpeg")
    response = auth_client.post("/api/v1/scans", {"image": image}, format="multipart")

    assert response.status_code == 201, response.content
    scan = response.json()
    assert (scan["status"], scan["failure_reason"], scan["analysis"]) == ("failed", reason, None)
    stored = auth_client.get(f"/api/v1/scans/{scan['scan_id']}").json()
    assert (stored["status"], stored["failure_reason"]) == ("failed", reason)
    assert len(fake_gemini.requests) == len(script)  # a refusal is not retried
    assert_message_only_in_the_log(response, caplog, message)


@pytest.mark.parametrize(
    "said, reason",
    [
        (
            "Unable to process input image. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
            "provider_unavailable",  # Gemini's trouble: the day's analysis is given back
        ),
        ("Provided image is not valid.", "unreadable_image"),
    ],
)
def test_a_photo_gemini_does_not_read_is_a_warning_with_its_own_reason(
    failing_gemini, auth_client, fake_gemini, caplog, said, reason
):
    failing_gemini([FakeResponse.status(400, message=said)])
    image = SimpleUploadedFile("face.jpg", SAMPLE_FACE.read_bytes(), content_type="image/jpeg")
    response = auth_client.post("/api/v1/scans", {"image": image}, format="multipart")

    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["failure_reason"]) == ("failed", reason)
    assert len(fake_gemini.requests) == 1
    logged = [record for record in caplog.records if said[:30] in record.getMessage()]
    assert logged and all(record.levelno == logging.WARNING for record in logged)
    assert_message_only_in_the_log(response, caplog, said)


@CASES
def test_a_plan_whose_draft_fails_is_the_rules_plan_with_a_note(
    failing_gemini, auth_client, fake_gemini, caplog, script, reason, message
):
    failing_gemini(script)
    response = auth_client.post("/api/v1/plans", {}, format="json")

    assert response.status_code == 201, response.content
    plan = response.json()
    assert plan["provider"] == "offline"
    assert plan["drafting_note"] == "assistant_unavailable"
    assert plan["am"] and plan["am"][-1]["category"] == "sunscreen"
    assert len(fake_gemini.requests) == len(script)
    assert auth_client.get("/api/v1/plans/active").json()["drafting_note"] == (
        "assistant_unavailable"
    )
    assert_message_only_in_the_log(response, caplog, message)


@pytest.mark.parametrize("accept", ["application/json", "text/event-stream"])
@CASES
def test_a_chat_reply_that_fails_is_a_503_that_keeps_my_message(
    failing_gemini, auth_client, caplog, script, reason, message, accept
):
    session = auth_client.post("/api/v1/chat/sessions", {}, format="json").json()
    url = f"/api/v1/chat/sessions/{session['session_id']}/messages"
    failing_gemini(script)
    response = auth_client.post(url, {"content": "Is my skin dry?"}, HTTP_ACCEPT=accept)

    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "assistant_unavailable"
    assert error["details"]["reason"] == reason
    assert int(response["Retry-After"]) > 0
    listed = auth_client.get(url).json()["items"]
    assert [(m["role"], m["content"]) for m in listed] == [("user", "Is my skin dry?")]
    assert_message_only_in_the_log(response, caplog, message)


def test_a_draft_that_is_not_a_plan_gives_the_rules_plan_noted_as_rejected(
    gemini_settings, fake_gemini, auth_client
):
    # The fake server's default answer is an analysis, not a plan: the assistant answered,
    # but its draft cannot be used.
    response = auth_client.post("/api/v1/plans", {}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["provider"] == "offline"
    assert response.json()["drafting_note"] == "assistant_draft_rejected"


def test_the_offline_provider_drafts_plans_without_a_note(auth_client):
    response = auth_client.post("/api/v1/plans", {}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["provider"], response.json()["drafting_note"]) == ("offline", None)
