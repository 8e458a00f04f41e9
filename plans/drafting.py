"""Drafting a treatment plan: the rule engine's plan, personalised by the provider if it can.

    content = draft_treatment_plan(analysis=scan_analysis_dict, profile=profile, provider=p)

The rule engine builds the base plan and owns the choice of actives. A provider with a
``draft_plan`` method (Gemini) may reword and reorder it; its draft is held to the base
plan's actives, schedule, goals and duration, then corrected by the safety check, or
rejected for the base plan when it cannot be. What is returned is safe to store, and
records who wrote it (``provider``, ``model``), what was corrected
(``safety_corrections``) and, when the rules' plan stands in for the provider's draft,
why (``drafting_note``). A provider failure is never an error here: the
person gets the rules' plan, and the provider's own message goes to the log.
"""

import copy
import logging
from typing import Any

from ai.providers import AIProvider, AnalysisFailed, SkinProfile
from plans.rules import build_plan
from plans.safety import (
    RECORD_KEYS,
    UNCORRECTABLE,
    UnsafePlan,
    check_plan,
    make_safe,
    without_actives,
)
from skincare.routines import FREQUENCIES, ROUTINES
from telemetry import record as telemetry

logger = logging.getLogger(__name__)

# Who wrote a plan the rule engine built on its own.
RULES_PROVIDER = "offline"
RULES_MODEL = "dermalens-plan-rules-1"
# Corrections that hold a draft to the rule engine's choices (beside plans.safety's).
HOLD_CORRECTIONS = (
    "restored_goals",
    "restored_duration",
    "dropped_active_not_in_base_plan",
    "restored_schedule",
)
# Why a plan is the rules' own although the provider drafts plans (``drafting_note``):
# the assistant gave no usable answer (an error, a refusal, a timeout, a blocked or
# malformed answer), or its draft broke the plan contract or a safety rule that cannot
# be corrected.
ASSISTANT_UNAVAILABLE_NOTE = "assistant_unavailable"
DRAFT_REJECTED_NOTE = "assistant_draft_rejected"
# The person's plans drafted by the assistant today reached AI_PLAN_DRAFTS_PER_DAY.
QUOTA_REACHED_NOTE = "assistant_quota_reached"


def drafts_plans(provider: AIProvider) -> bool:
    """Whether the provider drafts plans (Gemini): a call that costs, counted per day."""
    return getattr(provider, "draft_plan", None) is not None


def draft_treatment_plan(
    *,
    analysis: dict | None,
    profile: SkinProfile,
    provider: AIProvider,
    provider_allowed: bool = True,
) -> dict:
    """A plan that passes ``check_plan``: the provider's draft corrected, or the base plan.

    ``provider_allowed`` False: the person's drafts for the day are spent, and a provider
    that drafts plans is not asked (the rules' plan, noted ``assistant_quota_reached``).
    """
    base = build_plan(analysis=analysis, profile=profile)
    report = check_plan(base, profile=profile)
    if not report.ok:
        raise UnsafePlan(report.problems)  # a bug in the rules; never store it
    draft_plan = getattr(provider, "draft_plan", None)
    if draft_plan is None:
        return _rules_alone(base)
    if not provider_allowed:
        return _rules_alone(base, note=QUOTA_REACHED_NOTE)
    try:
        with telemetry.ai_call(use="plan", provider=provider):
            draft = draft_plan(base_plan=copy.deepcopy(base), analysis=analysis, profile=profile)
    except AnalysisFailed as failure:
        # The provider logged its own message; the reason code is enough here.
        logger.warning(
            "%s plan draft failed (%s); the rules' plan stands", provider.name, failure.reason
        )
        return _rules_alone(base, note=ASSISTANT_UNAVAILABLE_NOTE)
    except Exception:
        # A provider's unexpected error must not cost the person their plan.
        logger.exception("%s plan draft crashed; the rules' plan stands", provider.name)
        return _rules_alone(base, note=ASSISTANT_UNAVAILABLE_NOTE)
    try:
        content, corrections = _corrected(draft, base=base, profile=profile)
    except UnsafePlan as err:
        # Codes only: a plan and a profile are health data and stay out of the logs.
        problems = ", ".join(err.problems)
        logger.warning(
            "%s plan draft not used (%s); the rules' plan stands", provider.name, problems
        )
        return _rules_alone(base, note=DRAFT_REJECTED_NOTE)
    return _recorded(content, provider=provider.name, model=provider.model, corrections=corrections)


def _rules_alone(base: dict, *, note: str | None = None) -> dict:
    recorded = _recorded(base, provider=RULES_PROVIDER, model=RULES_MODEL, corrections=())
    if note is not None:
        recorded["drafting_note"] = note
    return recorded


def _corrected(draft: Any, *, base: dict, profile: SkinProfile) -> tuple[dict, tuple[str, ...]]:
    if isinstance(draft, dict):
        # Only this module says who wrote a plan and what was corrected.
        draft = {key: value for key, value in draft.items() if key not in RECORD_KEYS}
    report = check_plan(draft, profile=profile)
    if UNCORRECTABLE & set(report.problems):
        raise UnsafePlan(report.problems)
    held, held_corrections = _hold_to_base(draft, base=base)
    content, safety_corrections = make_safe(held, profile=profile)
    return content, held_corrections + safety_corrections


def _hold_to_base(draft: dict, *, base: dict) -> tuple[dict, tuple[str, ...]]:
    """The draft with the rule engine's goals, duration, actives and schedule kept.

    A step may not start an active sooner, or use it more often, than the base plan does.
    """
    held = copy.deepcopy(draft)
    corrections = set()
    for key, code in (("goals", "restored_goals"), ("duration_weeks", "restored_duration")):
        if held[key] != base[key]:
            held[key] = copy.deepcopy(base[key])
            corrections.add(code)
    schedule = _schedule(base)
    for routine in ROUTINES:
        steps = []
        for step in held[routine]:
            foreign = [active for active in step["actives"] if active not in schedule]
            if foreign:
                corrections.add("dropped_active_not_in_base_plan")
                step = without_actives(step, foreign, routine=routine)
                if step is None:
                    continue
            if step["actives"]:
                start = max(schedule[active][0] for active in step["actives"])
                rarest = max(schedule[active][1] for active in step["actives"])
                if step["start_week"] < start or FREQUENCIES.index(step["frequency"]) < rarest:
                    step = {
                        **step,
                        "start_week": max(step["start_week"], start),
                        "frequency": FREQUENCIES[max(FREQUENCIES.index(step["frequency"]), rarest)],
                    }
                    corrections.add("restored_schedule")
            steps.append(step)
        held[routine] = steps
    return held, tuple(code for code in HOLD_CORRECTIONS if code in corrections)


def _schedule(plan: dict) -> dict[str, tuple[int, int]]:
    """Active -> (earliest start week, index in FREQUENCIES of its least frequent use)."""
    schedule: dict[str, tuple[int, int]] = {}
    for routine in ROUTINES:
        for step in plan[routine]:
            rank = FREQUENCIES.index(step["frequency"])
            for active in step["actives"]:
                start, rarest = schedule.get(active, (step["start_week"], rank))
                schedule[active] = (min(start, step["start_week"]), max(rarest, rank))
    return schedule


def _recorded(content: dict, *, provider: str, model: str, corrections: tuple[str, ...]) -> dict:
    return {
        **content,
        "provider": provider,
        "model": model,
        "safety_corrections": list(corrections),
    }
