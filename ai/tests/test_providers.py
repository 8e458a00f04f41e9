"""Which provider each AI use gets: AI_PROVIDER's for analyses and plans, AI_CHAT_PROVIDER's
for chat replies (unset: the same as for analyses)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from ai.chat import OFFLINE_NOTICE, ChatContext, chat_provider
from ai.gemini import GeminiProvider
from ai.offline import OfflineProvider
from ai.providers import forget_providers, get_provider
from tests.at_once import at_once
from tests.fake_gemini import FakeResponse


@pytest.fixture(autouse=True)
def _fresh_providers():
    forget_providers()
    yield
    forget_providers()


def reply(message: str = "Is my skin dry?") -> str:
    return chat_provider().reply(context=ChatContext(), history=[], message=message)


def test_without_ai_chat_provider_chat_replies_come_from_the_analysis_provider(settings):
    settings.AI_PROVIDER = "offline"
    settings.AI_CHAT_PROVIDER = None
    assert isinstance(chat_provider(), OfflineProvider)
    assert reply().startswith(OFFLINE_NOTICE)


def test_ai_chat_provider_gemini_sends_chat_to_gemini_while_scans_stay_offline(
    gemini_settings, fake_gemini
):
    gemini_settings.AI_PROVIDER = "offline"
    gemini_settings.AI_CHAT_PROVIDER = "gemini"
    fake_gemini.enqueue(FakeResponse.text_answer("A light moisturiser suits you."))
    assert reply() == "A light moisturiser suits you."
    assert len(fake_gemini.requests) == 1
    assert isinstance(get_provider(), OfflineProvider)


def test_ai_chat_provider_offline_keeps_chat_offline_while_gemini_analyses(
    gemini_settings, fake_gemini
):
    gemini_settings.AI_CHAT_PROVIDER = "offline"
    assert reply().startswith(OFFLINE_NOTICE)
    assert fake_gemini.requests == []
    assert isinstance(get_provider(), GeminiProvider)


@pytest.mark.parametrize(
    ("chat_provider_name", "api_key", "complaint"),
    [
        ("gemini", None, "AI_CHAT_PROVIDER=gemini needs GEMINI_API_KEY."),
        ("openai", "a-key", "AI_CHAT_PROVIDER must be one of gemini, offline."),
    ],
)
def test_a_bad_ai_chat_provider_is_improperly_configured(
    settings, chat_provider_name, api_key, complaint
):
    settings.AI_PROVIDER = "offline"
    settings.AI_CHAT_PROVIDER = chat_provider_name
    settings.GEMINI_API_KEY = api_key
    with pytest.raises(ImproperlyConfigured) as caught:
        chat_provider()
    assert str(caught.value) == complaint


def test_an_unknown_use_of_a_provider_is_a_value_error():
    with pytest.raises(ValueError, match="use is one of analysis, chat"):
        get_provider("translation")


def test_threads_that_start_together_share_one_provider(gemini_settings):
    """An analysis worker's threads each ask for the provider on their first job; one
    Gemini client serves them all."""
    providers = at_once(get_provider, threads=16)

    assert len({id(provider) for provider in providers}) == 1
    assert isinstance(providers[0], GeminiProvider)
