"""The rule engine that builds a treatment plan and chooses its actives.

    content = build_plan(analysis=scan_analysis_dict, profile=profile)

The rules, not any AI provider, choose the actives: the lowest analysis scores and the
person's stated concerns pick target concerns, each concern maps to ingredients, and the
person's sensitivities, pregnancy and sensitive skin narrow the choice. New actives start
one at a time (``start_week``), a retinoid only at night, sunscreen last every morning.
The same inputs always give the same plan. Nothing here is a diagnosis or a prescription:
the only retinoid of medical strength is over-the-counter adapalene 0.1%. The words it
uses (metrics, concerns, actives and their clashes, the parts of a routine) are the
shared ``skincare`` vocabulary.

A plan's content is a plain dict (stored as a DynamoDB map)::

    {"title": str, "duration_weeks": int,
     "goals": [{"metric": str, "baseline": float | None}],
     "am": [step], "pm": [step], "cautions": [str], "see_dermatologist": [str]}
    step = {"order": int, "category": str, "name": str, "actives": [active id],
            "how": str, "frequency": str, "start_week": int}
"""

from typing import Any

from ai.providers import SkinProfile
from skincare.actives import (
    ACID_KINDS,
    ACTIVES,
    BENZOYL_PEROXIDE,
    CONCERN_ACTIVES,
    FAMILIES,
    INGREDIENT_SENSITIVITY_LABELS,
    PREGNANCY_PREFERS,
    RETINOID,
    SENSITIVE_SKIN_AVOIDS,
    SUPPORT_KINDS,
    allergens,
    clashes,
    excluded_kinds,
    is_new_active,
    kind_of,
)
from skincare.concerns import CONCERN_METRICS, METRIC_CONCERNS
from skincare.metrics import METRICS
from skincare.routines import (
    MAX_LIST_ITEMS,
    ROUTINES,
    STEP_CATEGORIES,
    TEXT_MAX_CHARS,
    TITLE_MAX_CHARS,
)

# How a plan's title names each concern it targets.
CONCERN_TITLES = {
    "acne": "breakouts",
    "redness": "redness",
    "pigmentation": "dark spots and dullness",
    "dryness": "dryness",
    "oiliness": "shine",
    "pores": "pores",
    "texture": "texture",
    "wrinkles": "fine lines",
    "dark_circles": "dark circles",
    "sensitivity": "sensitive skin",
}

# A metric scoring below this (0-100, higher is healthier) is a target.
TARGET_BELOW_SCORE = 70
# A score this low in acne is a reason to see a dermatologist rather than self-treat.
SEVERE_ACNE_BELOW_SCORE = 30
# Scores the provider was less sure of than this do not drive the plan.
MIN_TARGET_CONFIDENCE = 0.3
MAX_TARGET_CONCERNS = 3
ACTIVES_FOR_FIRST_CONCERN = 2
ACTIVES_FOR_OTHER_CONCERNS = 1
MAX_NEW_ACTIVES = 3
SENSITIVE_MAX_NEW_ACTIVES = 2
NEW_ACTIVE_SPACING_WEEKS = 2
SENSITIVE_NEW_ACTIVE_SPACING_WEEKS = 3
PLAN_WEEKS = 12
BASIC_PLAN_WEEKS = 6

# Where each kind may go, preferred routine first; the rest prefer the evening.
ROUTINES_BY_KIND = {
    RETINOID: ("pm",),  # sunlight breaks retinoids down and they add sun sensitivity
    "vitamin_c": ("am",),  # an antioxidant under the morning sunscreen
    BENZOYL_PEROXIDE: ("am", "pm"),
    "caffeine": ("am", "pm"),
    "hydrator": ("am", "pm"),
}
DEFAULT_ROUTINES = ("pm", "am")
# (usual frequency, frequency for sensitive skin) while an active is new.
FREQUENCY_BY_KIND = {
    RETINOID: ("every_other_day", "2_3_times_week"),
    "aha": ("2_3_times_week", "weekly"),
    "bha": ("every_other_day", "2_3_times_week"),
    BENZOYL_PEROXIDE: ("daily", "every_other_day"),
}
NEW_ACTIVE_FREQUENCY = ("daily", "every_other_day")

# (category, how) of the step that carries each active; the name is the active's label.
ACTIVE_STEPS = {
    "adapalene": (
        "treatment",
        "A pea-sized amount over the whole face on dry skin, avoiding eyes, nostrils and "
        "lips. Expect some dryness in the first weeks; moisturise after.",
    ),
    "retinol": (
        "treatment",
        "A pea-sized amount on dry skin after cleansing, avoiding eyes and lips; moisturise "
        "after. Some dryness at first is normal.",
    ),
    "retinal": (
        "treatment",
        "A pea-sized amount on dry skin after cleansing, avoiding eyes and lips; moisturise "
        "after. Some dryness at first is normal.",
    ),
    "salicylic_acid": (
        "exfoliant",
        "Apply a thin layer to oily or breakout-prone areas after cleansing; leave on.",
    ),
    "glycolic_acid": (
        "exfoliant",
        "Sweep over clean, dry skin with a cotton pad, avoiding the eyes; never on broken or "
        "sunburnt skin.",
    ),
    "lactic_acid": (
        "exfoliant",
        "A few drops over clean, dry skin, avoiding the eyes; never on broken or sunburnt skin.",
    ),
    "mandelic_acid": (
        "exfoliant",
        "A few drops over clean, dry skin, avoiding the eyes; never on broken or sunburnt skin.",
    ),
    "benzoyl_peroxide": (
        "treatment",
        "A thin layer on breakout-prone areas after cleansing. It bleaches fabric: let it dry "
        "fully and use white towels.",
    ),
    "azelaic_acid": (
        "treatment",
        "A thin layer over the affected areas after cleansing; a mild tingle at first is usual.",
    ),
    "niacinamide": ("serum", "Two or three drops over the whole face before moisturiser."),
    "vitamin_c": (
        "serum",
        "Three or four drops over the whole face after cleansing, before moisturiser and "
        "sunscreen.",
    ),
    "zinc": ("serum", "Two or three drops over oily areas before moisturiser."),
    "peptides": ("serum", "Two or three drops over the whole face before moisturiser."),
    "caffeine": ("eye_cream", "Tap a rice-grain amount under each eye with the ring finger."),
    "centella": (
        "serum",
        "Pat a few drops over red or irritated areas before moisturiser.",
    ),
    "panthenol": ("serum", "Pat a few drops over dry or irritated areas before moisturiser."),
    "ceramides": (
        "moisturiser",
        "A fragrance-free moisturiser over the whole face while the skin is still slightly damp.",
    ),
    "hyaluronic_acid": ("serum", "Two or three drops on damp skin, then moisturise at once."),
    "sunscreen_spf50": (
        "sunscreen",
        "The last morning step: two finger-lengths for face and neck, 15 minutes before going "
        "out; reapply every 2 hours outdoors.",
    ),
}
CLEANSER_HOW = {
    "am": "Rinse with lukewarm water, or a little gentle fragrance-free cleanser if your skin "
    "feels oily; pat dry.",
    "pm": "Massage a gentle fragrance-free cleanser over damp skin for 30-60 seconds to lift "
    "sunscreen and the day's grime; rinse with lukewarm water and pat dry.",
}
MOISTURISER = "ceramides"
SUNSCREEN_ACTIVE = "sunscreen_spf50"

# When to see a dermatologist: in every plan ({weeks} is the plan's duration).
RED_FLAGS = (
    "A mole or spot that is new, changing in size, shape or colour, bleeding, itching or not "
    "healing.",
    "A rash, redness or breakouts that spread quickly, blister, or come with fever or pain.",
    "Deep, painful lumps or cysts (nodules), or breakouts that leave scars.",
    "Swelling, redness or irritation around the eyes, or any change in your eyesight.",
    "Burning, swelling or a rash that lasts more than a few days after starting a product: "
    "stop it and ask for advice.",
    "No visible improvement after {weeks} weeks of following this plan.",
)
SEVERE_ACNE_ADVICE = (
    "Your scan suggests severe acne: a dermatologist can offer treatments beyond an "
    "over-the-counter routine, so book a visit before relying on this plan alone."
)
SCAN_RED_FLAGS_ADVICE = (
    "Your scan noted signs to have checked by a dermatologist before you start new products: "
)
NOT_A_DIAGNOSIS = (
    "This plan is general skin-care guidance from rules and your scan, not a diagnosis or a "
    "medical treatment."
)
PATCH_TEST = (
    "Patch-test each new product on a small area (behind the ear or on the jaw) for 2-3 days "
    "before using it on your face."
)
ONE_AT_A_TIME = (
    "Start each new active in the week shown, not sooner; if your skin stings or peels, use it "
    "less often until it settles."
)
SENSITIVE_SKIN_CAUTION = (
    "Your skin is sensitive, so new actives start slowly, one at a time, at least "
    "{weeks} weeks apart."
)
RETINOID_CAUTION = (
    "Retinoids make skin more sun-sensitive and can irritate at first; never use them if you "
    "are pregnant, trying to conceive or breastfeeding."
)
RETINOID_UNKNOWN_PREGNANCY_CAUTION = (
    "If you are pregnant, trying to conceive or breastfeeding, stop the retinoid and update "
    "your profile so your plan leaves it out."
)
PREGNANCY_CAUTION = (
    "During pregnancy and breastfeeding this plan leaves out retinoids; check every new "
    "product with your doctor or midwife."
)
ACID_CAUTION = (
    "Exfoliating acids make skin more sun-sensitive: keep up your sunscreen, and skip them on "
    "irritated, broken or sunburnt skin."
)
BENZOYL_PEROXIDE_CAUTION = "Benzoyl peroxide bleaches fabric: use white towels and pillowcases."
INGREDIENTS_CAUTION = "Choose products free of {ingredients}, as you asked."
ALLERGIES_CAUTION = (
    "Check every product's full ingredient list before you use it, and stop anything that "
    "causes a reaction: you told us you are allergic to {allergies}."
)
MORE_ALLERGIES_CAUTION = "You also told us you are allergic to {allergies}."


def is_pregnant_or_breastfeeding(profile: SkinProfile) -> bool:
    return profile.pregnant_or_breastfeeding is True


def has_sensitive_skin(profile: SkinProfile) -> bool:
    return profile.skin_type == "sensitive" or "sensitivity" in profile.skin_concerns


def product_step(active: str, *, frequency: str, start_week: int, order: int = 0) -> dict:
    """The step that carries one active, in the engine's own words."""
    category, how = ACTIVE_STEPS[active]
    return {
        "order": order,
        "category": category,
        "name": ACTIVES[active]["label"],
        "actives": [active],
        "how": how,
        "frequency": frequency,
        "start_week": start_week,
    }


def moisturiser_step(*, allergic_to: frozenset[str] = frozenset()) -> dict:
    """The daily moisturiser: the ceramide one, or a plain one (no active of ours) for a
    person allergic to ceramides or wherever a correction took a moisturiser's actives."""
    if MOISTURISER in allergic_to:
        return plain_moisturiser_step()
    return product_step(MOISTURISER, frequency="daily", start_week=1)


def plain_moisturiser_step() -> dict:
    """The daily moisturiser with no active of ours in it."""
    step = product_step(MOISTURISER, frequency="daily", start_week=1)
    return {**step, "name": "Plain moisturiser", "actives": []}


def cleanser_step(routine: str) -> dict:
    return {
        "order": 0,
        "category": "cleanser",
        "name": "Gentle cleanser",
        "actives": [],
        "how": CLEANSER_HOW[routine],
        "frequency": "daily",
        "start_week": 1,
    }


def sunscreen_step() -> dict:
    return product_step(SUNSCREEN_ACTIVE, frequency="daily", start_week=1)


def sort_routine(steps: list[dict]) -> list[dict]:
    """Steps in the order they go on the skin (sunscreen last), numbered from 1."""
    ordered = sorted(steps, key=lambda step: STEP_CATEGORIES.index(step["category"]))
    return [{**step, "order": number} for number, step in enumerate(ordered, start=1)]


def red_flags(*, duration_weeks: int, analysis: dict | None = None) -> list[str]:
    """When to see a dermatologist: what the scan showed first, then the standing signs."""
    advice = []
    if analysis:
        flags = [str(flag) for flag in analysis.get("red_flags") or []]
        if flags:
            text = SCAN_RED_FLAGS_ADVICE + "; ".join(flags) + "."
            advice.append(_clip(text, TEXT_MAX_CHARS))
        if _has_severe_acne(analysis):
            advice.append(SEVERE_ACNE_ADVICE)
    advice.extend(flag.format(weeks=duration_weeks) for flag in RED_FLAGS)
    return advice


def build_plan(*, analysis: dict | None, profile: SkinProfile) -> dict[str, Any]:
    """A treatment plan from the rules alone; ``analysis`` is ``SkinAnalysis.to_dict()``."""
    scores = _usable_scores(analysis)
    sensitive = has_sensitive_skin(profile) or (analysis or {}).get("skin_type") == "sensitive"
    targets = _target_concerns(scores, profile)
    allergic_to = allergens(profile.allergies)
    chosen = _choose_actives(targets, profile=profile, sensitive=sensitive, allergic_to=allergic_to)
    routines = _place(chosen, sensitive=sensitive, allergic_to=allergic_to)
    duration = PLAN_WEEKS if any(is_new_active(active) for active in chosen) else BASIC_PLAN_WEEKS
    # The ceramide moisturiser counts where the plan has it.
    used = [*chosen, *([] if MOISTURISER in allergic_to else [MOISTURISER])]
    addressed = [concern for concern, _ in targets if _is_addressed(concern, used)]
    return {
        "title": _title(addressed, sensitive=sensitive),
        "duration_weeks": duration,
        "goals": _goals(targets, addressed, scores),
        "am": routines["am"],
        "pm": routines["pm"],
        "cautions": _cautions(chosen, profile=profile, sensitive=sensitive),
        "see_dermatologist": red_flags(duration_weeks=duration, analysis=analysis),
    }


def _usable_scores(analysis: dict | None) -> dict[str, float]:
    """Metric scores worth acting on: judged, confident, from an acceptable photo."""
    if not analysis:
        return {}
    if not (analysis.get("image_quality") or {}).get("acceptable", True):
        return {}
    scores = {}
    for metric in METRICS:
        entry = (analysis.get("metrics") or {}).get(metric) or {}
        score = entry.get("score")
        if score is None or float(entry.get("confidence", 1)) < MIN_TARGET_CONFIDENCE:
            continue
        scores[metric] = round(float(score), 1)
    return scores


def _target_concerns(
    scores: dict[str, float], profile: SkinProfile
) -> list[tuple[str, tuple[str, ...]]]:
    """(concern, the metrics that raised it): lowest scores first, then stated concerns."""
    raised: dict[str, list[str]] = {}
    low = sorted(
        (score, METRICS.index(metric), metric)
        for metric, score in scores.items()
        if score < TARGET_BELOW_SCORE
    )
    for _, _, metric in low:
        raised.setdefault(METRIC_CONCERNS[metric], []).append(metric)
    for concern in profile.skin_concerns:
        if concern in CONCERN_ACTIVES:
            raised.setdefault(concern, [CONCERN_METRICS[concern]])
    targets = list(raised.items())[:MAX_TARGET_CONCERNS]
    return [(concern, tuple(metrics)) for concern, metrics in targets]


def _choose_actives(
    targets: list[tuple[str, tuple[str, ...]]],
    *,
    profile: SkinProfile,
    sensitive: bool,
    allergic_to: frozenset[str],
) -> dict[str, str]:
    """Active -> routine, in the order they start: the first concern's first."""
    pregnant = is_pregnant_or_breastfeeding(profile)
    excluded = excluded_kinds(profile.sensitivities, pregnant=pregnant)
    max_new = SENSITIVE_MAX_NEW_ACTIVES if sensitive else MAX_NEW_ACTIVES
    chosen: dict[str, str] = {}
    for index, (concern, _) in enumerate(targets):
        candidates = list(CONCERN_ACTIVES[concern])
        if pregnant:
            preferred = [active for active in PREGNANCY_PREFERS if active in candidates]
            candidates = preferred + [active for active in candidates if active not in preferred]
        wanted = ACTIVES_FOR_FIRST_CONCERN if index == 0 else ACTIVES_FOR_OTHER_CONCERNS
        taken = 0
        for active in candidates:
            if taken == wanted:
                break
            if active in chosen or active == MOISTURISER or active in allergic_to:
                continue
            if kind_of(active) in excluded or (sensitive and active in SENSITIVE_SKIN_AVOIDS):
                continue
            new_count = sum(is_new_active(other) for other in chosen)
            if is_new_active(active) and new_count >= max_new:
                continue
            routine = _routine_for(active, chosen)
            if routine is None or _same_family(active, chosen):
                continue
            chosen[active] = routine
            taken += 1
    return chosen


def _same_family(active: str, chosen: dict[str, str]) -> bool:
    kind = kind_of(active)
    family = FAMILIES.get(kind, kind)
    return kind not in SUPPORT_KINDS and any(
        FAMILIES.get(kind_of(other), kind_of(other)) == family for other in chosen
    )


def _routine_for(active: str, chosen: dict[str, str]) -> str | None:
    """The first routine allowed for the active where nothing chosen so far clashes."""
    kind = kind_of(active)
    for routine in ROUTINES_BY_KIND.get(kind, DEFAULT_ROUTINES):
        placed = [kind_of(other) for other, where in chosen.items() if where == routine]
        if not any(clashes(kind, other) for other in placed):
            return routine
    return None


def _place(
    chosen: dict[str, str], *, sensitive: bool, allergic_to: frozenset[str]
) -> dict[str, list[dict]]:
    """The AM and PM steps: cleanser, the chosen actives, moisturiser, AM sunscreen."""
    routines: dict[str, list[dict]] = {routine: [cleanser_step(routine)] for routine in ROUTINES}
    spacing = SENSITIVE_NEW_ACTIVE_SPACING_WEEKS if sensitive else NEW_ACTIVE_SPACING_WEEKS
    next_start = 1
    for active, routine in chosen.items():
        if is_new_active(active):
            start_week, next_start = next_start, next_start + spacing
            usual, gentle = FREQUENCY_BY_KIND.get(kind_of(active), NEW_ACTIVE_FREQUENCY)
            frequency = gentle if sensitive else usual
        else:
            start_week, frequency = 1, "daily"
        routines[routine].append(product_step(active, frequency=frequency, start_week=start_week))
    for routine in ROUTINES:
        routines[routine].append(moisturiser_step(allergic_to=allergic_to))
    routines["am"].append(sunscreen_step())
    return {routine: sort_routine(steps) for routine, steps in routines.items()}


def _is_addressed(concern: str, used: list[str]) -> bool:
    kinds = {kind_of(active) for active in used}
    return any(kind_of(candidate) in kinds for candidate in CONCERN_ACTIVES[concern])


def _goals(
    targets: list[tuple[str, tuple[str, ...]]], addressed: list[str], scores: dict[str, float]
) -> list[dict]:
    goals: list[dict] = []
    for concern, metrics in targets:
        if concern not in addressed:
            continue
        for metric in metrics:
            if all(goal["metric"] != metric for goal in goals):
                goals.append({"metric": metric, "baseline": scores.get(metric)})
    return goals


def _title(concerns: list[str], *, sensitive: bool) -> str:
    opening = "Gentle routine" if sensitive else "Routine"
    if not concerns:
        return "Gentle everyday routine"
    names = [CONCERN_TITLES[concern] for concern in concerns]
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return _clip(f"{opening} for {joined}", TITLE_MAX_CHARS)


def _cautions(chosen: dict[str, str], *, profile: SkinProfile, sensitive: bool) -> list[str]:
    kinds = {kind_of(active) for active in chosen}
    cautions = [NOT_A_DIAGNOSIS, PATCH_TEST]
    if any(is_new_active(active) for active in chosen):
        cautions.append(ONE_AT_A_TIME)
    if sensitive:
        cautions.append(SENSITIVE_SKIN_CAUTION.format(weeks=SENSITIVE_NEW_ACTIVE_SPACING_WEEKS))
    if is_pregnant_or_breastfeeding(profile):
        cautions.append(PREGNANCY_CAUTION)
    if RETINOID in kinds:
        cautions.append(RETINOID_CAUTION)
        if profile.pregnant_or_breastfeeding is None:
            cautions.append(RETINOID_UNKNOWN_PREGNANCY_CAUTION)
    if kinds & ACID_KINDS:
        cautions.append(ACID_CAUTION)
    if BENZOYL_PEROXIDE in kinds:
        cautions.append(BENZOYL_PEROXIDE_CAUTION)
    ingredients = [
        INGREDIENT_SENSITIVITY_LABELS[sensitivity]
        for sensitivity in profile.sensitivities
        if sensitivity in INGREDIENT_SENSITIVITY_LABELS
    ]
    if ingredients:
        cautions.append(INGREDIENTS_CAUTION.format(ingredients=", ".join(ingredients)))
    cautions += _allergy_cautions(profile.allergies)
    return cautions[:MAX_LIST_ITEMS]


def _allergy_cautions(allergies: tuple[str, ...]) -> list[str]:
    """Every allergy named, in as few cautions as hold them (each at most TEXT_MAX_CHARS;
    an allergy is at most ALLERGY_MAX_LENGTH, so one always fits)."""
    cautions: list[str] = []
    names: list[str] = []
    for allergy in (allergy.strip() for allergy in allergies):
        template = MORE_ALLERGIES_CAUTION if cautions else ALLERGIES_CAUTION
        if names and len(template.format(allergies=", ".join([*names, allergy]))) > TEXT_MAX_CHARS:
            cautions.append(template.format(allergies=", ".join(names)))
            names = []
        names.append(allergy)
    if names:
        template = MORE_ALLERGIES_CAUTION if cautions else ALLERGIES_CAUTION
        cautions.append(template.format(allergies=", ".join(names)))
    return cautions


def _has_severe_acne(analysis: dict) -> bool:
    acne = _usable_scores(analysis).get("acne")
    if acne is not None and acne < SEVERE_ACNE_BELOW_SCORE:
        return True
    return any(
        "acne" in str(concern.get("name", "")).lower() and concern.get("severity") == "severe"
        for concern in analysis.get("concerns") or []
        if isinstance(concern, dict)
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
