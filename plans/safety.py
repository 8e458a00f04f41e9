"""The safety check every treatment plan passes before it is stored, and its corrections.

    report = check_plan(content, profile=profile)        # report.ok, report.problems
    content, corrections = make_safe(draft, profile=profile)   # or raises UnsafePlan

Whoever drafted a plan (the rule engine or an AI provider), it is untrusted here. Its shape
is checked strictly first (types, known categories, frequencies and actives, lengths);
a plan of the wrong shape cannot be corrected. Then the safety rules: no retinoid with
benzoyl peroxide or an AHA/BHA in the same routine, no retinoid in the morning, none when
pregnant or breastfeeding, nothing the person is sensitive to or names among their
allergies, one new active at a time (at least two weeks apart) for sensitive skin,
sunscreen as the last step of every morning, and advice on when to see a dermatologist.
``make_safe`` fixes what it can by removing or moving actives and adding steps, never by
adding a treatment.
"""

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ai.providers import SkinProfile
from plans.rules import (
    NEW_ACTIVE_SPACING_WEEKS,
    cleanser_step,
    has_sensitive_skin,
    is_pregnant_or_breastfeeding,
    plain_moisturiser_step,
    product_step,
    red_flags,
    sunscreen_step,
)
from skincare.actives import (
    ACID_KINDS,
    ACTIVES,
    BENZOYL_PEROXIDE,
    RETINOID,
    SUNSCREEN,
    allergens,
    avoided_kinds,
    is_new_active,
    kind_of,
)
from skincare.metrics import METRICS
from skincare.routines import (
    FREQUENCIES,
    MAX_ACTIVES_PER_STEP,
    MAX_LIST_ITEMS,
    MAX_PLAN_WEEKS,
    MAX_STEPS_PER_ROUTINE,
    MIN_PLAN_WEEKS,
    ROUTINES,
    STEP_CATEGORIES,
    TEXT_MAX_CHARS,
    TITLE_MAX_CHARS,
)

# Problem codes, in the order a report lists them.
PROBLEMS = (
    "bad_shape",
    "unknown_active",
    "retinoid_in_pregnancy",
    "avoided_active",
    "allergen",
    "retinoid_in_am",
    "retinoid_with_benzoyl_peroxide",
    "retinoid_with_acid",
    "no_am_sunscreen",
    "am_sunscreen_not_last",
    "several_new_actives_at_once",
    "starts_after_plan_ends",
    "no_dermatologist_advice",
)
# A plan with these is rejected, never corrected: nothing in it can be trusted.
UNCORRECTABLE = frozenset({"bad_shape", "unknown_active"})
# Correction codes ``make_safe`` reports, in the order it applies them.
CORRECTIONS = (
    "removed_retinoid_for_pregnancy",
    "removed_avoided_active",
    "removed_allergen",
    "added_am_sunscreen",
    "moved_am_sunscreen_last",
    "moved_retinoid_to_pm",
    "removed_retinoid_from_am",
    "moved_benzoyl_peroxide_to_other_routine",
    "removed_benzoyl_peroxide",
    "moved_acid_to_other_routine",
    "removed_acid",
    "removed_extra_new_active",
    "respaced_new_actives",
    "extended_duration",
    "added_dermatologist_advice",
)
# Sensitive skin: weeks at least between the starts of two new actives.
SENSITIVE_MIN_WEEKS_BETWEEN_NEW_ACTIVES = 2

PLAN_KEYS = ("title", "duration_weeks", "goals", "am", "pm", "cautions", "see_dermatologist")
# Who drafted a stored plan and what was corrected: written by plans.drafting.
RECORD_KEYS = ("provider", "model", "safety_corrections", "drafting_note")
RECORD_TEXT_MAX_CHARS = 120
RECORD_LIST_MAX_ITEMS = 32
GOAL_KEYS = ("metric", "baseline")
STEP_KEYS = ("order", "category", "name", "actives", "how", "frequency", "start_week")
# Steps that still make sense when a correction takes their actives away.
PLAIN_STEPS: dict[str, Callable[[str], dict]] = {
    "cleanser": cleanser_step,
    "moisturiser": lambda routine: plain_moisturiser_step(),
}
SEVERAL_ACTIVES_HOW = "Apply a thin layer as the product's label directs."


class UnsafePlan(Exception):
    """A plan fails the safety check and cannot be corrected; ``problems`` says why."""

    def __init__(self, problems: tuple[str, ...]):
        self.problems = tuple(problems)
        super().__init__(f"unsafe treatment plan: {', '.join(self.problems)}")


@dataclass(frozen=True)
class SafetyReport:
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def check_plan(content: dict, *, profile: SkinProfile) -> SafetyReport:
    """Every problem of a plan (codes from PROBLEMS); ``ok`` when there is none."""
    if not _has_valid_shape(content):
        return SafetyReport(("bad_shape",))
    if any(active not in ACTIVES for active in _actives(content)):
        return SafetyReport(("unknown_active",))
    found = set()
    kinds = {
        routine: {kind_of(active) for active in _actives(content, routine)} for routine in ROUTINES
    }
    if is_pregnant_or_breastfeeding(profile) and any(RETINOID in kinds[r] for r in ROUTINES):
        found.add("retinoid_in_pregnancy")
    if any(kinds[routine] & avoided_kinds(profile.sensitivities) for routine in ROUTINES):
        found.add("avoided_active")
    if allergens(profile.allergies) & set(_actives(content)):
        found.add("allergen")
    if RETINOID in kinds["am"]:
        found.add("retinoid_in_am")
    for routine in ROUTINES:
        if RETINOID in kinds[routine] and BENZOYL_PEROXIDE in kinds[routine]:
            found.add("retinoid_with_benzoyl_peroxide")
        if RETINOID in kinds[routine] and kinds[routine] & ACID_KINDS:
            found.add("retinoid_with_acid")
    am = _in_order(content["am"])
    if not any(_is_am_sunscreen(step) for step in am):
        found.add("no_am_sunscreen")
    elif not _is_am_sunscreen(am[-1]):
        found.add("am_sunscreen_not_last")
    if has_sensitive_skin(profile) and _new_actives_too_close(content):
        found.add("several_new_actives_at_once")
    if any(step["start_week"] > content["duration_weeks"] for step in _steps(content)):
        found.add("starts_after_plan_ends")
    if not content["see_dermatologist"]:
        found.add("no_dermatologist_advice")
    return SafetyReport(tuple(code for code in PROBLEMS if code in found))


def make_safe(content: dict, *, profile: SkinProfile) -> tuple[dict, tuple[str, ...]]:
    """A corrected copy of the plan and the corrections applied (codes from CORRECTIONS).

    Raises ``UnsafePlan`` when the plan has the wrong shape or names an unknown active,
    or when the corrected plan still fails ``check_plan``.
    """
    report = check_plan(content, profile=profile)
    if UNCORRECTABLE & set(report.problems):
        raise UnsafePlan(report.problems)
    plan = copy.deepcopy(content)
    for routine in ROUTINES:
        plan[routine] = _in_order(plan[routine])
    corrections: list[str] = []
    if is_pregnant_or_breastfeeding(profile):
        for routine in ROUTINES:
            if _take_out(plan, routine, lambda active: kind_of(active) == RETINOID):
                corrections.append("removed_retinoid_for_pregnancy")
    avoided = avoided_kinds(profile.sensitivities)
    for routine in ROUTINES:
        if _take_out(plan, routine, lambda active: kind_of(active) in avoided):
            corrections.append("removed_avoided_active")
    allergic_to = allergens(profile.allergies)
    for routine in ROUTINES:
        if _take_out(plan, routine, lambda active: active in allergic_to):
            corrections.append("removed_allergen")
    corrections += _ensure_am_sunscreen(plan)
    corrections += _move(
        plan,
        "am",
        lambda active: kind_of(active) == RETINOID,
        moved="moved_retinoid_to_pm",
        removed="removed_retinoid_from_am",
    )
    for routine in ROUTINES:
        if not any(kind_of(active) == RETINOID for active in _actives(plan, routine)):
            continue
        corrections += _move(
            plan,
            routine,
            lambda active: kind_of(active) == BENZOYL_PEROXIDE,
            moved="moved_benzoyl_peroxide_to_other_routine",
            removed="removed_benzoyl_peroxide",
        )
        corrections += _move(
            plan,
            routine,
            lambda active: kind_of(active) in ACID_KINDS,
            moved="moved_acid_to_other_routine",
            removed="removed_acid",
        )
    if has_sensitive_skin(profile):
        corrections += _respace_new_actives(plan)
    latest_start = max(step["start_week"] for step in _steps(plan))
    if latest_start > plan["duration_weeks"]:
        plan["duration_weeks"] = min(MAX_PLAN_WEEKS, latest_start + NEW_ACTIVE_SPACING_WEEKS)
        corrections.append("extended_duration")
    if not plan["see_dermatologist"]:
        plan["see_dermatologist"] = red_flags(duration_weeks=plan["duration_weeks"])
        corrections.append("added_dermatologist_advice")
    for routine in ROUTINES:
        plan[routine] = [
            {**step, "order": number} for number, step in enumerate(plan[routine], start=1)
        ]
    final = check_plan(plan, profile=profile)
    if not final.ok:
        raise UnsafePlan(final.problems)
    return plan, tuple(code for code in CORRECTIONS if code in corrections)


def without_actives(step: dict, leaving: list[str], *, routine: str) -> dict | None:
    """The step once ``leaving`` actives are taken out, reworded so its name stays true.

    ``None`` when nothing worth keeping is left. A step left with one active becomes the
    rule engine's step for it; a cleanser or moisturiser left with none, a plain one.
    """
    remaining = [active for active in step["actives"] if active not in leaving]
    if remaining == step["actives"]:
        return step
    schedule = {"frequency": step["frequency"], "start_week": step["start_week"]}
    if not remaining:
        plain = PLAIN_STEPS.get(step["category"])
        return plain(routine) if plain else None
    if len(remaining) == 1:
        return {**product_step(remaining[0], **schedule), "order": step["order"]}
    name = " and ".join(ACTIVES[active]["label"] for active in remaining)
    return {
        **step,
        "actives": remaining,
        "name": name[:TEXT_MAX_CHARS],
        "how": SEVERAL_ACTIVES_HOW,
    }


def _take_out(plan: dict, routine: str, leaves: Callable[[str], bool]) -> list[tuple[str, dict]]:
    """Remove the matching actives from a routine; returns (active, step it left)."""
    taken: list[tuple[str, dict]] = []
    kept = []
    for step in plan[routine]:
        leaving = [active for active in step["actives"] if leaves(active)]
        taken += [(active, step) for active in leaving]
        rest = without_actives(step, leaving, routine=routine)
        if rest is not None:
            kept.append(rest)
    plan[routine] = kept
    return taken


def _move(
    plan: dict, routine: str, leaves: Callable[[str], bool], *, moved: str, removed: str
) -> list[str]:
    """Move the matching actives to the other routine, or drop them when it is full."""
    other = "pm" if routine == "am" else "am"
    corrections = []
    for active, step in _take_out(plan, routine, leaves):
        if active in _actives(plan, other):
            corrections.append(moved)
            continue
        if len(plan[other]) >= MAX_STEPS_PER_ROUTINE:
            corrections.append(removed)
            continue
        schedule = {"frequency": step["frequency"], "start_week": step["start_week"]}
        _insert(plan[other], product_step(active, **schedule))
        corrections.append(moved)
    return corrections


def _insert(steps: list[dict], step: dict) -> None:
    """Put a step after the last one that goes on the skin before it."""
    rank = STEP_CATEGORIES.index(step["category"])
    position = 0
    for index, other in enumerate(steps):
        if STEP_CATEGORIES.index(other["category"]) <= rank:
            position = index + 1
    steps.insert(position, step)


def _ensure_am_sunscreen(plan: dict) -> list[str]:
    am = plan["am"]
    sunscreens = [step for step in am if _is_am_sunscreen(step)]
    if not sunscreens:
        # A sunscreen step that is not a daily sunscreen from week 1 is replaced, not kept.
        plan["am"] = [step for step in am if step["category"] != "sunscreen"]
        plan["am"].append(sunscreen_step())
        return ["added_am_sunscreen"]
    if am[-1] is not sunscreens[-1]:
        am.remove(sunscreens[-1])
        am.append(sunscreens[-1])
        return ["moved_am_sunscreen_last"]
    return []


def _respace_new_actives(plan: dict) -> list[str]:
    """One new active per step, each starting at least the minimum weeks after the last."""
    corrections = []
    introduced: dict[str, int] = {}
    last_start: int | None = None
    walk = sorted(
        (step["start_week"], ROUTINES.index(routine), index, routine)
        for routine in ROUTINES
        for index, step in enumerate(plan[routine])
    )
    for _, _, index, routine in walk:
        step = plan[routine][index]
        fresh = [a for a in step["actives"] if is_new_active(a) and a not in introduced]
        if len(fresh) > 1:
            step = without_actives(step, fresh[1:], routine=routine)
            fresh = fresh[:1]
            corrections.append("removed_extra_new_active")
        start = step["start_week"]
        if fresh:
            if last_start is not None:
                start = max(start, last_start + SENSITIVE_MIN_WEEKS_BETWEEN_NEW_ACTIVES)
            if start > MAX_PLAN_WEEKS:
                plan[routine][index] = without_actives(step, fresh, routine=routine)
                corrections.append("removed_extra_new_active")
                continue
            introduced[fresh[0]] = last_start = start
        else:
            known = [introduced[active] for active in step["actives"] if active in introduced]
            start = max([start, *known])
        if start != step["start_week"]:
            step = {**step, "start_week": start}
            corrections.append("respaced_new_actives")
        plan[routine][index] = step
    for routine in ROUTINES:
        plan[routine] = [step for step in plan[routine] if step is not None]
    return corrections


def _new_actives_too_close(content: dict) -> bool:
    starts: dict[str, int] = {}
    for step in _steps(content):
        for active in step["actives"]:
            if is_new_active(active):
                starts[active] = min(starts.get(active, step["start_week"]), step["start_week"])
    weeks = sorted(starts.values())
    return any(
        later - earlier < SENSITIVE_MIN_WEEKS_BETWEEN_NEW_ACTIVES
        for earlier, later in itertools.pairwise(weeks)
    )


def _is_am_sunscreen(step: dict) -> bool:
    return (
        step["category"] == "sunscreen"
        and any(kind_of(active) == SUNSCREEN for active in step["actives"])
        and step["frequency"] == "daily"
        and step["start_week"] == 1
    )


def _in_order(steps: list[dict]) -> list[dict]:
    return sorted(steps, key=lambda step: step["order"])


def _steps(content: dict) -> list[dict]:
    return [step for routine in ROUTINES for step in content[routine]]


def _actives(content: dict, routine: str | None = None) -> list[str]:
    routines = ROUTINES if routine is None else (routine,)
    return [active for name in routines for step in content[name] for active in step["actives"]]


# --- shape ---------------------------------------------------------------------------


def _has_valid_shape(content: Any) -> bool:
    if not isinstance(content, dict):
        return False
    keys = set(content)
    if not set(PLAN_KEYS) <= keys <= {*PLAN_KEYS, *RECORD_KEYS}:
        return False
    return (
        _is_text(content["title"], TITLE_MAX_CHARS)
        and _is_whole(content["duration_weeks"], MIN_PLAN_WEEKS, MAX_PLAN_WEEKS)
        and _is_goals(content["goals"])
        and all(_is_routine(content[routine]) for routine in ROUTINES)
        and _is_texts(content["cautions"], MAX_LIST_ITEMS, TEXT_MAX_CHARS)
        and _is_texts(content["see_dermatologist"], MAX_LIST_ITEMS, TEXT_MAX_CHARS)
        and _is_record(content)
    )


def _is_record(content: dict) -> bool:
    return all(
        _is_text(content[key], RECORD_TEXT_MAX_CHARS)
        for key in ("provider", "model", "drafting_note")
        if key in content
    ) and (
        "safety_corrections" not in content
        or _is_texts(content["safety_corrections"], RECORD_LIST_MAX_ITEMS, RECORD_TEXT_MAX_CHARS)
    )


def _is_goals(goals: Any) -> bool:
    if not isinstance(goals, list) or len(goals) > len(METRICS):
        return False
    for goal in goals:
        if not isinstance(goal, dict) or set(goal) != set(GOAL_KEYS):
            return False
        if goal["metric"] not in METRICS or not _is_baseline(goal["baseline"]):
            return False
    metrics = [goal["metric"] for goal in goals]
    return len(set(metrics)) == len(metrics)


def _is_routine(steps: Any) -> bool:
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS_PER_ROUTINE:
        return False
    if not all(_is_step(step) for step in steps):
        return False
    orders = [step["order"] for step in steps]
    return len(set(orders)) == len(orders)


def _is_step(step: Any) -> bool:
    if not isinstance(step, dict) or set(step) != set(STEP_KEYS):
        return False
    actives = step["actives"]
    return (
        _is_whole(step["order"], 1, MAX_STEPS_PER_ROUTINE)
        and step["category"] in STEP_CATEGORIES
        and _is_text(step["name"], TEXT_MAX_CHARS)
        and isinstance(actives, list)
        and len(actives) <= MAX_ACTIVES_PER_STEP
        and all(isinstance(active, str) for active in actives)
        and len(set(actives)) == len(actives)
        and _is_text(step["how"], TEXT_MAX_CHARS)
        and step["frequency"] in FREQUENCIES
        and _is_whole(step["start_week"], 1, MAX_PLAN_WEEKS)
    )


def _is_text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= limit


def _is_texts(values: Any, max_items: int, limit: int) -> bool:
    return (
        isinstance(values, list)
        and len(values) <= max_items
        and all(_is_text(value, limit) for value in values)
    )


def _is_whole(value: Any, low: int, high: int) -> bool:
    # DynamoDB hands whole numbers back as int; a bool is an int to Python but not here.
    return type(value) is int and low <= value <= high


def _is_baseline(value: Any) -> bool:
    if value is None:
        return True
    if type(value) not in (int, float, Decimal):
        return False
    return value == value and 0 <= value <= 100  # value == value is False for NaN
