"""Deployment checks of the AI settings (``manage.py check --deploy``).

The web workers build their providers when they start and stop on a wrong AI setting
(``AI_PROVIDER=gemni``, Gemini without a key, a thinking level the model cannot take);
the check says so before anything is started. A Gemini deadline that the web tier of
deploy/ does not wait out is a warning: the answers past it are paid for, then lost.
"""

import math
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

# What deploy/ waits for a request (tests/test_deploy.py holds these to its files): the
# load balancer ends a request silent this long (its idle timeout, README "A new
# release"); a stopping web worker finishes its requests for the deadline plus the
# storing of an answer (gunicorn.conf.py's graceful_timeout), and systemd kills it this
# long after the stop began (dermalens-web.service's TimeoutStopSec), which must leave
# the worker a margin to exit.
LOAD_BALANCER_IDLE_SECONDS = 60
ANSWER_STORING_SECONDS = 10
WEB_STOP_SECONDS = 75
WORKER_EXIT_SECONDS = 10


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


@register("ai", deploy=True)
def check_gemini_deadline(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    deadline = settings.GEMINI_CALL_DEADLINE_SECONDS
    answered = math.ceil(deadline) + ANSWER_STORING_SECONDS  # also the graceful timeout
    reasons = []
    if answered > LOAD_BALANCER_IDLE_SECONDS:
        reasons.append(
            f"an answer Gemini gives at the deadline, stored within {ANSWER_STORING_SECONDS} "
            f"s, comes after the load balancer's {LOAD_BALANCER_IDLE_SECONDS} s idle "
            "timeout (a 504 for a call paid for)"
        )
    if answered + WORKER_EXIT_SECONDS > WEB_STOP_SECONDS:
        reasons.append(
            f"a stopping web worker waits {answered} s for it (graceful_timeout), too near "
            f"systemd's TimeoutStopSec ({WEB_STOP_SECONDS} s), which kills the worker "
            "storing it"
        )
    if not reasons:
        return []
    longest = min(LOAD_BALANCER_IDLE_SECONDS, WEB_STOP_SECONDS - WORKER_EXIT_SECONDS)
    return [
        Warning(
            f"GEMINI_CALL_DEADLINE_SECONDS is {deadline:g}: {'; '.join(reasons)}.",
            hint=(
                f"Set GEMINI_CALL_DEADLINE_SECONDS to {longest - ANSWER_STORING_SECONDS} "
                "or less (the default: 50). To wait longer, raise together the load "
                "balancer's idle timeout (and gunicorn's keepalive above it), "
                "TimeoutStopSec in dermalens-web.service (to the deadline + "
                f"{ANSWER_STORING_SECONDS + WORKER_EXIT_SECONDS}) and the stack's "
                f"WebDeregistrationDelaySeconds (to the deadline + {ANSWER_STORING_SECONDS})."
            ),
            id="ai.W001",
        )
    ]
