"""What the real Gemini API does that a permissive stand-in would hide: the API version,
thinking per use, and a 429's RetryInfo."""

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ImproperlyConfigured

from ai.chat import ChatContext, ChatFailed
from ai.gemini_client import RetryBudget
from ai.providers import AnalysisFailed, SkinProfile
from ai.tests.test_gemini import SAMPLE_FACE
from plans.rules import build_plan
from tests.fake_gemini import FakeGemini, FakeResponse, ReceivedRequest, valid_analysis_answer


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

    @pytest.mark.parametrize("budget", [0, -1, 1024, 2047])
    def test_a_number_is_a_token_budget_for_a_2_5_model(
        self, make_gemini, gemini_settings, fake_gemini, budget
    ):
        gemini_settings.GEMINI_MODEL = "gemini-2.5-flash"
        gemini_settings.GEMINI_THINKING_CHAT = str(budget)
        fake_gemini.enqueue(FakeResponse.text_answer("Your skin looks balanced."))

        reply(make_gemini())

        assert thinking_sent(fake_gemini.requests[0]) == {"thinkingBudget": budget}

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

    @pytest.mark.parametrize(
        ("setting", "budget"),
        [
            ("GEMINI_THINKING_CHAT", "2048"),
            ("GEMINI_THINKING_CHAT", "4096"),
            ("GEMINI_THINKING_ANALYSIS", "8192"),
            ("GEMINI_THINKING_PLAN", "10000"),
            ("GEMINI_THINKING_CHAT", "-2"),
        ],
    )
    def test_a_thinking_budget_that_leaves_no_room_to_answer_stops_start_up(
        self, make_gemini, gemini_settings, setting, budget
    ):
        gemini_settings.GEMINI_MODEL = "gemini-2.5-flash"
        setattr(gemini_settings, setting, budget)

        with pytest.raises(ImproperlyConfigured, match=setting):
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

    def test_calls_turned_away_together_come_back_spread_over_the_advised_delay(
        self, make_gemini, gemini_settings
    ):
        # Eight replies asked at once are all told to come back in 2 s: at the same
        # instant, they would meet the quota as one burst again as it refills.
        calls, delay = 8, 2.0
        arrivals: dict[str, list[float]] = {}
        lock = threading.Lock()

        def quota(request: ReceivedRequest) -> FakeResponse:
            question = re.search(r"Question \d+", json.dumps(request.body))
            assert question, "each call asks its own question"
            with lock:
                times = arrivals.setdefault(question.group(), [])
                times.append(time.monotonic())
                first = len(times) == 1
            if first:
                return FakeResponse.rate_limited(retry_delay=f"{delay:g}s")
            return FakeResponse.text_answer("Use a gentle cleanser.")

        with FakeGemini(responder=quota) as server:
            gemini_settings.GEMINI_BASE_URL = server.base_url
            gemini_settings.GEMINI_RATE_LIMIT_BUDGET_SECONDS = 10
            gemini_settings.GEMINI_CALL_DEADLINE_SECONDS = 20
            provider = make_gemini()
            # Room for all eight retries (the shared budget lets half of ten calls retry).
            provider.retry_budget = RetryBudget(tokens=4 * calls)

            def ask(number: int):
                message = f"Question {number}: is my skin dry?"
                return provider.reply(context=ChatContext(), history=[], message=message)

            with ThreadPoolExecutor(calls) as pool:
                replies = list(pool.map(ask, range(calls)))

        assert all(answer.strip() == "Use a gentle cleanser." for answer in replies)
        waits = [times[1] - times[0] for times in arrivals.values()]
        assert len(waits) == calls
        assert min(waits) >= delay  # the server's delay, never less
        # Each waits up to a quarter more (0.5 s here): spread, not in one instant.
        assert max(waits) - min(waits) >= 0.1
        assert max(waits) <= delay * 1.25 + 0.5

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
