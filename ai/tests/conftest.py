"""Fixtures of the AI provider tests: a Gemini provider pointed at the fake server.

The fake server and the GEMINI_* settings fixtures are in the root conftest, shared with
the scan API tests.
"""

import pytest


@pytest.fixture
def make_gemini(gemini_settings):
    """Build a GeminiProvider from the current settings, with backoff short enough for tests."""
    from ai.gemini import GeminiProvider

    def make() -> GeminiProvider:
        return GeminiProvider(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05)

    return make


@pytest.fixture
def gemini(make_gemini):
    return make_gemini()
