"""``manage.py ai_check``: one real request per use, against the fake Gemini server."""

import base64
import io

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from tests.fake_gemini import FakeResponse, valid_analysis_answer


def ai_check() -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("ai_check", stdout=out)
    except CommandError as err:
        return out.getvalue(), err
    return out.getvalue(), None


def test_a_working_gemini_passes_every_use_with_one_request_each(gemini_settings, fake_gemini):
    fake_gemini.enqueue(FakeResponse.json_answer(valid_analysis_answer()))

    output, error = ai_check()

    assert error is None, output
    lines = output.splitlines()
    assert lines[0] == "The service uses: analyses and plans: gemini, chat: gemini"
    assert "gemini-3.5-flash, API v1beta" in lines[1]
    assert [line.split()[:2] for line in lines[2:5]] == [
        ["analysis", "ok"],
        ["plan", "ok"],
        ["chat", "ok"],
    ]
    assert "all 3 checks passed" in output
    requests = fake_gemini.requests
    assert len(requests) == 3
    assert all(r.version == "v1beta" and r.model == "gemini-3.5-flash" for r in requests)
    (inline,) = [
        p["inlineData"] for p in requests[0].body["contents"][0]["parts"] if "inlineData" in p
    ]
    image = Image.open(io.BytesIO(base64.urlsafe_b64decode(inline["data"])))
    assert (image.format, image.size) == ("JPEG", (640, 640))


def test_a_refusing_server_fails_every_use_with_its_own_message(gemini_settings, fake_gemini):
    fake_gemini.enqueue(*[FakeResponse.status(403)] * 3)

    output, error = ai_check()

    assert error is not None
    assert "3 of 3 checks failed: analysis, plan, chat" in str(error)
    for use in ("analysis", "plan", "chat"):
        line = next(line for line in output.splitlines() if line.startswith(use))
        assert "FAILED" in line
        assert "403 PERMISSION_DENIED: Method doesn't allow unregistered callers." in line


def test_the_v1_api_refusing_our_fields_fails_with_the_unknown_name(gemini_settings, fake_gemini):
    gemini_settings.GEMINI_API_VERSION = "v1"

    output, error = ai_check()

    assert error is not None
    assert output.count('Unknown name "systemInstruction"') == 3


def test_one_failing_use_is_named_with_its_reason(gemini_settings, fake_gemini):
    fake_gemini.enqueue(
        FakeResponse.json_answer(valid_analysis_answer()),
        FakeResponse.json_answer({"not": "a plan"}),
        *[FakeResponse.status(503)] * 3,
    )

    output, error = ai_check()

    assert str(error) == "1 of 3 checks failed: chat"
    assert "chat      FAILED  provider_unavailable: Gemini answered 503 UNAVAILABLE" in output


def test_without_a_key_there_is_nothing_to_check(settings):
    settings.GEMINI_API_KEY = None

    with pytest.raises(CommandError, match="GEMINI_API_KEY is not set"):
        call_command("ai_check", stdout=io.StringIO())


def test_it_says_which_uses_are_not_gemini_s(gemini_settings, fake_gemini):
    gemini_settings.AI_CHAT_PROVIDER = "offline"
    fake_gemini.enqueue(FakeResponse.json_answer(valid_analysis_answer()))
    output, error = ai_check()
    assert error is None, output
    assert output.splitlines()[0] == "The service uses: analyses and plans: gemini, chat: offline"
    gemini_settings.AI_PROVIDER = "offline"
    gemini_settings.AI_CHAT_PROVIDER = None
    fake_gemini.enqueue(FakeResponse.json_answer(valid_analysis_answer()))
    output, error = ai_check()
    assert error is None, output
    assert "none of it is Gemini's" in output.splitlines()[1]


def test_a_provider_name_the_service_would_refuse_fails_the_check(gemini_settings, fake_gemini):
    gemini_settings.AI_CHAT_PROVIDER = "gemni"
    _, error = ai_check()
    assert error is not None and "AI_CHAT_PROVIDER must be one of" in str(error)
    assert fake_gemini.requests == []
