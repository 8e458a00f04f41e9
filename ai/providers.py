"""The AI provider interface, its errors, and the choice of provider from settings.

    provider = get_provider()
    analysis = provider.analyze_skin(image_jpeg=data, area="face", profile=profile)

Code that uses a provider does not know which one it has: ``GeminiProvider`` (Google
Gemini through google-genai) or ``OfflineProvider`` (pixel heuristics, no network).
``AI_PROVIDER`` chooses the one that analyses scans and drafts plans;
``AI_CHAT_PROVIDER``, when set, another one for chat replies (``get_provider("chat")``).
"""

import functools
import threading
from dataclasses import dataclass
from typing import Protocol, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from ai.analysis import SkinAnalysis

PROVIDERS = {
    "gemini": "ai.gemini.GeminiProvider",
    "offline": "ai.offline.OfflineProvider",
}

# Why an analysis failed; stored on the scan as its reason code.
FAILURE_REASONS = (
    "safety_block",  # the model refused the image for what it shows, or blocked its answer
    # The answer broke the schema (types, ranges, malformed JSON), or there was none to use
    # (withheld as a recitation, the prompt blocked without a reason given).
    "invalid_response",
    "provider_unavailable",  # 5xx or connection errors after retries
    "provider_rejected",  # the provider refused the request (400, 401, 403, 404: not retried)
    "rate_limited",  # 429 after retries
    "timeout",  # no answer in time
    "unreadable_image",  # the image could not be analysed at all
)


class AnalysisFailed(Exception):
    """The provider could not produce a valid analysis; ``reason`` is a FAILURE_REASONS code.

    ``retry_after_seconds``: when the provider said how soon to ask again (a 429's delay).
    """

    def __init__(self, reason: str, message: str = "", *, retry_after_seconds: int | None = None):
        if reason not in FAILURE_REASONS:
            raise ValueError(f"unknown failure reason {reason!r}")
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class SkinProfile:
    """What a provider may know of the person (never their name or email)."""

    skin_type: str | None = None
    skin_concerns: tuple[str, ...] = ()
    sensitivities: tuple[str, ...] = ()
    age_range: str | None = None
    pregnant_or_breastfeeding: bool | None = None
    # In the person's own words; plans leave out the actives they name
    # (``skincare.actives.allergens``). Not sent with a photo: no analysis needs them.
    allergies: tuple[str, ...] = ()


class AIProvider(Protocol):
    name: str
    model: str

    def analyze_skin(self, *, image_jpeg: bytes, area: str, profile: SkinProfile) -> SkinAnalysis:
        """Analyse one re-encoded JPEG; raise AnalysisFailed when no valid analysis results."""
        ...


def provider_name() -> str:
    """The provider of analyses and plans: AI_PROVIDER, or Gemini when there is a key."""
    name = settings.AI_PROVIDER or ("gemini" if settings.GEMINI_API_KEY else "offline")
    return checked_provider_name(name, setting="AI_PROVIDER")


def chat_provider_name() -> str:
    """The provider of chat replies: AI_CHAT_PROVIDER, or else the one of ``provider_name``."""
    if not settings.AI_CHAT_PROVIDER:
        return provider_name()
    return checked_provider_name(settings.AI_CHAT_PROVIDER, setting="AI_CHAT_PROVIDER")


def checked_provider_name(name: str, *, setting: str) -> str:
    if name not in PROVIDERS:
        raise ImproperlyConfigured(f"{setting} must be one of {', '.join(PROVIDERS)}.")
    if name == "gemini" and not settings.GEMINI_API_KEY:
        raise ImproperlyConfigured(f"{setting}=gemini needs GEMINI_API_KEY.")
    return name


# What each use of a provider reads its name from.
PROVIDER_NAMES_BY_USE = {"analysis": provider_name, "chat": chat_provider_name}


# Held while a provider is built: the analysis worker's threads all ask for one on their
# first job, and each would otherwise build its own Gemini client.
_building = threading.Lock()


def get_provider(use: str = "analysis") -> AIProvider:
    """The provider for ``use``: "analysis" (scans and plans) or "chat"; built once."""
    with _building:
        return _built_provider(use)


def forget_providers() -> None:
    """Build the providers again on next use (after their settings change, as in tests)."""
    with _building:
        _built_provider.cache_clear()


@functools.cache
def _built_provider(use: str) -> AIProvider:
    if use not in PROVIDER_NAMES_BY_USE:
        raise ValueError(f"use is one of {', '.join(PROVIDER_NAMES_BY_USE)}, not {use!r}")
    return cast(AIProvider, import_string(PROVIDERS[PROVIDER_NAMES_BY_USE[use]()])())
