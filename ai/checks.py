"""Deployment check of the AI settings (``manage.py check --deploy``).

The web workers build their providers when they start and stop on a wrong AI setting
(``AI_PROVIDER=gemni``, Gemini without a key, a thinking level the model cannot take);
the check says so before anything is started.
"""

from typing import Any

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register("ai", deploy=True)
def check_ai_providers(app_configs: Any, **kwargs: Any) -> list[Error]:
    from ai.providers import PROVIDER_NAMES_BY_USE, get_provider  # only when checked

    errors = []
    for use in PROVIDER_NAMES_BY_USE:
        try:
            get_provider(use)
        except ImproperlyConfigured as err:
            errors.append(
                Error(
                    f"The AI provider for {use} cannot be made: {err}",
                    hint="Web workers and the jobs worker would stop at start with this.",
                    id="ai.E001",
                )
            )
    return errors
