"""What the real Gemini API does that a permissive stand-in would hide: the API version,
thinking per use, and a 429's RetryInfo."""

import re
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from ai.chat import ChatContext, ChatFailed
from ai.providers import AnalysisFailed, SkinProfile
from ai.tests.test_gemini import SAMPLE_FACE
from plans.rules import build_plan
from tests.fake_gemini import FakeResponse, valid_analysis_answer


@pytest.fixture(scope="module")
def photo() -> bytes:
    """A real face: the pipeline measures it and Gemini is asked about the rest."""
    return SAMPLE_FACE.read_bytes()


def analyze(provider, photo: bytes):
    return provider.analyze_skin(image_jpeg=photo, area="face", profile=SkinProfile())


def draft(provider):
    base = build_plan(analysis=None, profile=SkinProfile())
    return provider.draft_plan(base_plan=base, analysis=None, profile=SkinProfile())


def thinking_sent(request) -> dict | None:
    """The request's thinking config, keys in the API's lowerCamel spelling (google-genai
    passes this nested object on in Python's snake_case, which the API also accepts)."""
    sent = request.body["generationConfig"].get("thinkingConfig")
    if sent is None:
        return None
    return {re.sub(r"_(\w)", lambda m: m[1].upper(), key): value for key, value in sent.items()}


def reply(provider):
    return provider.reply(context=ChatContext(), history=[], message="Is my skin dry?")


class TestApiVersion:
    def test_calls_go_to_the_v1beta_api_by_default(self, gemini, fake_gemini, photo):
        analyze(gemini, photo)

        assert fake_gemini.requests[0].version == "v1beta"

    def test_the_v1_api_refuses_our_system_instruction_as_the_real_one_does(
        self, make_gemini, gemini_settings, fake_gemini, photo
    ):
        gemini_settings.GEMINI_API_VERSION = "v1"

        with pytest.raises(AnalysisFailed) as caught:
            analyze(make_gemini(), photo)

        assert caught.value.reason == "provider_rejected"
        assert 'Unknown name "systemInstruction"' in str(caught.value)
        assert fake_gemini.requests[0].version == "v1"

    def test_an_empty_api_version_stops_start_up(self, make_gemini, gemini_settings):
        gemini_settings.GEMINI_API_VERSION = ""

        with pytest.raises(ImproperlyConfigured, match="GEMINI_API_VERSION"):
            make_gemini()


class TestThinking:
    def test_each_use_sends_its_own_thinking_level(
        self, make_gemini, gemini_settings, fake_gemini, photo
    ):
        gemini_settings.GEMINI_THINKING_ANALYSIS = "medium"
        gemini_settings.GEMINI_THINKING_PLAN = "low"
        gemini_settings.GEMINI_THINKING_CHAT = "minimal"
        provider = make_gemini()
        fake_gemini.enqueue(
            FakeResponse.json_answer(valid_analysis_answer()),
            FakeResponse.json_answer(build_plan(analysis=None, profile=SkinProfile())),
            FakeResponse.text_answer("Your skin looks balanced."),
        )

        analyze(provider, photo)
        draft(provider)
        reply(provider)

        sent = [thinking_sent(request) for request in fake_gemini.requests]
        assert sent == [
            {"thinkingLevel": "MEDIUM"},
            {"thinkingLevel": "LOW"},
            {"thinkingLevel": "MINIMAL"},
        ]

    def test_a_number_is_a_token_budget_for_a_2_5_model(
        self, make_gemini, gemini_settings, fake_gemini
    ):
        gemini_settings.GEMINI_MODEL = "gemini-2.5-flash"
        gemini_settings.GEMINI_THINKING_CHAT = "0"
        fake_gemini.enqueue(FakeResponse.text_answer("Your skin looks balanced."))

        reply(make_gemini())

        assert thinking_sent(fake_gemini.requests[0]) == {"thinkingBudget": 0}

    def test_an_empty_setting_leaves_the_models_default(
        self, make_gemini, gemini_settings, fake_gemini, photo
    ):
        gemini_settings.GEMINI_THINKING_ANALYSIS = ""

        analyze(make_gemini(), photo)

        assert thinking_sent(fake_gemini.requests[0]) is None

    def test_a_thinking_setting_that_is_neither_level_nor_number_stops_start_up(
        self, make_gemini, gemini_settings
    ):
        gemini_settings.GEMINI_THINKING_PLAN = "lots"

        with pytest.raises(ImproperlyConfigured, match="GEMINI_THINKING_PLAN"):
            make_gemini()


class TestRateLimits:
    def test_the_servers_retry_delay_is_waited_out_then_the_call_succeeds(
        self, gemini, fake_gemini, photo
    ):
        fake_gemini.enqueue(
            FakeResponse.rate_limited(retry_delay="0.4s"),
            FakeResponse.json_answer(valid_analysis_answer()),
        )

        started = time.monotonic()
        analysis = analyze(gemini, photo)

        assert analysis.skin_type == valid_analysis_answer()["skin_type"]
        assert len(fake_gemini.requests) == 2
        assert time.monotonic() - started >= 0.4

    def test_a_delay_past_the_budget_fails_at_once_with_the_servers_delay(
        self, gemini, gemini_settings, fake_gemini, photo
    ):
        gemini_settings.GEMINI_RATE_LIMIT_BUDGET_SECONDS = 5
        fake_gemini.enqueue(
            FakeResponse.rate_limited(retry_delay="37.2s"),
            FakeResponse.json_answer(valid_analysis_answer()),
        )
        provider = gemini.__class__()  # reads the budget

        started = time.monotonic()
        with pytest.raises(AnalysisFailed) as caught:
            analyze(provider, photo)

        assert caught.value.reason == "rate_limited"
        assert caught.value.retry_after_seconds == 38
        assert len(fake_gemini.requests) == 1
        assert time.monotonic() - started < 2

    def test_a_chat_reply_past_the_budget_carries_the_servers_delay(
        self, make_gemini, gemini_settings, fake_gemini
    ):
        gemini_settings.GEMINI_RATE_LIMIT_BUDGET_SECONDS = 1
        fake_gemini.enqueue(FakeResponse.rate_limited(retry_delay="20s"))

        with pytest.raises(ChatFailed) as caught:
            reply(make_gemini())

        assert (caught.value.reason, caught.value.retry_after_seconds) == ("rate_limited", 20)

    def test_a_429_without_retry_info_is_retried_on_our_backoff_without_a_retry_after(
        self, gemini, fake_gemini, photo
    ):
        fake_gemini.enqueue(*[FakeResponse.status(429)] * 3)

        with pytest.raises(AnalysisFailed) as caught:
            analyze(gemini, photo)

        assert caught.value.reason == "rate_limited"
        assert caught.value.retry_after_seconds is None
        assert len(fake_gemini.requests) == 3
