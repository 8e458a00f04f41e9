"""The safety check and its corrections, table-driven over each rule."""

import copy
from decimal import Decimal

import pytest

from ai.providers import SkinProfile
from plans.safety import SafetyReport, UnsafePlan, check_plan, make_safe
from skincare.actives import kind_of

ANYONE = SkinProfile()
PREGNANT = SkinProfile(pregnant_or_breastfeeding=True)
SENSITIVE_PROFILES = {
    "sensitive skin type": SkinProfile(skin_type="sensitive"),
    "sensitivity concern": SkinProfile(skin_concerns=("sensitivity",)),
}
RETINOIDS = ("adapalene", "retinol", "retinal")
PARTNERS = (
    (
        "benzoyl_peroxide",
        "retinoid_with_benzoyl_peroxide",
        "moved_benzoyl_peroxide_to_other_routine",
    ),
    ("salicylic_acid", "retinoid_with_acid", "moved_acid_to_other_routine"),
    ("glycolic_acid", "retinoid_with_acid", "moved_acid_to_other_routine"),
    ("lactic_acid", "retinoid_with_acid", "moved_acid_to_other_routine"),
    ("mandelic_acid", "retinoid_with_acid", "moved_acid_to_other_routine"),
)
CONFLICTS = [
    (retinoid, partner, problem, correction)
    for retinoid in RETINOIDS
    for partner, problem, correction in PARTNERS
]
CONFLICT_IDS = [f"{retinoid}+{partner}" for retinoid, partner, _, _ in CONFLICTS]


def step(
    *actives: str,
    category: str = "treatment",
    frequency: str = "daily",
    start_week: int = 1,
    name: str | None = None,
) -> dict:
    return {
        "order": 0,
        "category": category,
        "name": name or " and ".join(actives),
        "actives": list(actives),
        "how": "A thin layer after cleansing.",
        "frequency": frequency,
        "start_week": start_week,
    }


CLEANSER = {**step(category="cleanser", name="Gentle cleanser")}
MOISTURISER = step("ceramides", category="moisturiser")
SUNSCREEN = step("sunscreen_spf50", category="sunscreen")


def numbered(steps: list[dict]) -> list[dict]:
    return [{**s, "order": number} for number, s in enumerate(steps, start=1)]


def plan(*, am: list[dict] = (), pm: list[dict] = (), sunscreen: bool = True) -> dict:
    """A plan with a cleanser first and a moisturiser in each routine, AM sunscreen last."""
    return {
        "title": "Test plan",
        "duration_weeks": 12,
        "goals": [{"metric": "acne", "baseline": 42.0}],
        "am": numbered([CLEANSER, *am, MOISTURISER, *([SUNSCREEN] if sunscreen else [])]),
        "pm": numbered([CLEANSER, *pm, MOISTURISER]),
        "cautions": ["Patch-test new products."],
        "see_dermatologist": ["A mole that changes or bleeds."],
    }


def actives_in(content: dict, routine: str) -> list[str]:
    return [active for s in content[routine] for active in s["actives"]]


def problems(content: dict, profile: SkinProfile = ANYONE) -> tuple[str, ...]:
    return check_plan(content, profile=profile).problems


def test_a_plan_that_breaks_no_rule_is_ok():
    report = check_plan(plan(am=[step("benzoyl_peroxide")], pm=[step("adapalene")]), profile=ANYONE)

    assert report == SafetyReport(())
    assert report.ok


# --- a retinoid with benzoyl peroxide or an AHA/BHA ------------------------------------


@pytest.mark.parametrize(
    ("retinoid", "partner", "problem", "correction"), CONFLICTS, ids=CONFLICT_IDS
)
def test_a_retinoid_with_its_partner_in_the_same_routine_is_flagged(
    retinoid, partner, problem, correction
):
    content = plan(pm=[step(retinoid), step(partner)])

    assert problems(content) == (problem,)


@pytest.mark.parametrize(
    ("retinoid", "partner", "problem", "correction"), CONFLICTS, ids=CONFLICT_IDS
)
def test_a_retinoid_with_its_partner_in_one_step_is_flagged(retinoid, partner, problem, correction):
    content = plan(pm=[step(retinoid, partner)])

    assert problems(content) == (problem,)


@pytest.mark.parametrize(
    ("retinoid", "partner", "problem", "correction"), CONFLICTS, ids=CONFLICT_IDS
)
def test_the_same_pair_split_across_morning_and_evening_is_fine(
    retinoid, partner, problem, correction
):
    content = plan(am=[step(partner)], pm=[step(retinoid)])

    assert problems(content) == ()


@pytest.mark.parametrize(
    ("retinoid", "partner", "problem", "correction"), CONFLICTS, ids=CONFLICT_IDS
)
@pytest.mark.parametrize("same_step", [False, True], ids=["own steps", "one step"])
def test_make_safe_moves_the_partner_to_the_morning_and_keeps_the_retinoid_at_night(
    retinoid, partner, problem, correction, same_step
):
    evening = [step(retinoid, partner)] if same_step else [step(retinoid), step(partner)]

    safe, corrections = make_safe(plan(pm=evening), profile=ANYONE)

    assert corrections == (correction,)
    assert problems(safe) == ()
    assert retinoid in actives_in(safe, "pm")
    assert partner not in actives_in(safe, "pm")
    assert partner in actives_in(safe, "am")
    assert safe["am"][-1]["category"] == "sunscreen"
    assert [s["order"] for s in safe["am"]] == list(range(1, len(safe["am"]) + 1))


@pytest.mark.parametrize(
    ("partner", "correction"),
    [("benzoyl_peroxide", "removed_benzoyl_peroxide"), ("salicylic_acid", "removed_acid")],
)
def test_make_safe_drops_the_partner_when_the_morning_has_no_room(partner, correction):
    full_morning = [step("hyaluronic_acid", category="serum") for _ in range(5)]

    safe, corrections = make_safe(
        plan(am=full_morning, pm=[step("adapalene"), step(partner)]), profile=ANYONE
    )

    assert corrections == (correction,)
    assert partner not in actives_in(safe, "am") + actives_in(safe, "pm")
    assert "adapalene" in actives_in(safe, "pm")


def test_a_step_split_by_a_correction_is_renamed_for_what_it_still_holds():
    combined = step("adapalene", "benzoyl_peroxide", name="Adapalene and benzoyl peroxide gel")

    safe, _ = make_safe(plan(pm=[combined]), profile=ANYONE)

    names = [s["name"] for s in safe["pm"]]
    assert "Adapalene and benzoyl peroxide gel" not in names
    assert "Adapalene 0.1% gel" in names


@pytest.mark.parametrize("retinoid", RETINOIDS)
def test_a_morning_retinoid_is_flagged_and_moved_to_the_evening(retinoid):
    content = plan(am=[step(retinoid)])
    assert problems(content) == ("retinoid_in_am",)

    safe, corrections = make_safe(content, profile=ANYONE)

    assert corrections == ("moved_retinoid_to_pm",)
    assert retinoid in actives_in(safe, "pm")
    assert retinoid not in actives_in(safe, "am")


def test_a_retinoid_moved_to_the_evening_pushes_an_evening_acid_to_the_morning():
    safe, corrections = make_safe(
        plan(am=[step("retinol")], pm=[step("glycolic_acid")]), profile=ANYONE
    )

    assert corrections == ("moved_retinoid_to_pm", "moved_acid_to_other_routine")
    assert actives_in(safe, "pm") == ["retinol", "ceramides"]
    assert "glycolic_acid" in actives_in(safe, "am")


# --- pregnancy and breastfeeding -------------------------------------------------------


@pytest.mark.parametrize("retinoid", RETINOIDS)
@pytest.mark.parametrize(
    ("pregnant_or_breastfeeding", "expected"),
    [(True, ("retinoid_in_pregnancy",)), (False, ()), (None, ())],
    ids=["pregnant or breastfeeding", "not", "not said"],
)
def test_a_retinoid_is_flagged_only_when_pregnant_or_breastfeeding(
    retinoid, pregnant_or_breastfeeding, expected
):
    profile = SkinProfile(pregnant_or_breastfeeding=pregnant_or_breastfeeding)

    assert problems(plan(pm=[step(retinoid)]), profile) == expected


@pytest.mark.parametrize("retinoid", RETINOIDS)
def test_make_safe_removes_every_retinoid_when_pregnant(retinoid):
    content = plan(pm=[step(retinoid), step("niacinamide", category="serum")])

    safe, corrections = make_safe(content, profile=PREGNANT)

    assert corrections == ("removed_retinoid_for_pregnancy",)
    assert "retinoid" not in {kind_of(a) for r in ("am", "pm") for a in actives_in(safe, r)}
    assert "niacinamide" in actives_in(safe, "pm")


def test_a_retinoid_removed_from_a_shared_step_leaves_no_mention_in_its_name():
    content = plan(pm=[step("retinol", "peptides", name="Retinol peptide night serum")])

    safe, _ = make_safe(content, profile=PREGNANT)

    (peptides,) = [s for s in safe["pm"] if "peptides" in s["actives"]]
    assert peptides["actives"] == ["peptides"]
    assert "retinol" not in (peptides["name"] + peptides["how"]).lower()


def test_a_plan_left_with_an_empty_routine_is_rejected():
    content = plan(pm=[step("adapalene")])
    content["pm"] = numbered([step("adapalene")])

    with pytest.raises(UnsafePlan) as caught:
        make_safe(content, profile=PREGNANT)

    assert caught.value.problems == ("bad_shape",)


# --- sensitivities -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sensitivity", "active"),
    [
        ("retinoids", "retinol"),
        ("aha_bha", "lactic_acid"),
        ("aha_bha", "salicylic_acid"),
        ("benzoyl_peroxide", "benzoyl_peroxide"),
        ("vitamin_c", "vitamin_c"),
        ("niacinamide", "niacinamide"),
    ],
)
def test_an_active_the_person_is_sensitive_to_is_flagged_and_removed(sensitivity, active):
    profile = SkinProfile(sensitivities=(sensitivity,))
    content = plan(pm=[step(active)])
    assert problems(content, profile) == ("avoided_active",)

    safe, corrections = make_safe(content, profile=profile)

    assert corrections == ("removed_avoided_active",)
    assert active not in actives_in(safe, "am") + actives_in(safe, "pm")


@pytest.mark.parametrize(
    ("allergy", "active", "category"),
    [
        ("Vitamin C", "vitamin_c", "serum"),
        ("retinoids", "adapalene", "treatment"),
        ("salicylates", "salicylic_acid", "treatment"),
        ("ceramide", "ceramides", "moisturiser"),
    ],
)
def test_an_active_the_person_names_among_their_allergies_is_flagged_and_removed(
    allergy, active, category
):
    profile = SkinProfile(allergies=("nickel", allergy))
    content = plan(pm=[step(active, category=category)])
    assert problems(content, profile) == ("allergen",)

    safe, corrections = make_safe(content, profile=profile)

    assert corrections == ("removed_allergen",)
    assert active not in actives_in(safe, "am") + actives_in(safe, "pm")
    assert problems(safe, profile) == ()


# --- sensitive skin: one new active at a time ------------------------------------------


@pytest.mark.parametrize("profile_name", list(SENSITIVE_PROFILES))
@pytest.mark.parametrize(
    ("first_week", "second_week", "expected"),
    [
        (1, 1, ("several_new_actives_at_once",)),
        (1, 2, ("several_new_actives_at_once",)),
        (3, 2, ("several_new_actives_at_once",)),
        (1, 3, ()),
        (5, 1, ()),
    ],
)
def test_sensitive_skin_new_actives_must_start_two_weeks_apart(
    profile_name, first_week, second_week, expected
):
    content = plan(
        am=[step("azelaic_acid", start_week=first_week)],
        pm=[step("niacinamide", category="serum", start_week=second_week)],
    )

    assert problems(content, SENSITIVE_PROFILES[profile_name]) == expected


def test_other_skin_may_start_two_new_actives_in_one_week():
    content = plan(am=[step("azelaic_acid")], pm=[step("niacinamide", category="serum")])

    assert problems(content, SkinProfile(skin_type="oily")) == ()


@pytest.mark.parametrize("profile_name", list(SENSITIVE_PROFILES))
def test_supporting_ingredients_may_start_together_on_sensitive_skin(profile_name):
    content = plan(am=[step("hyaluronic_acid", category="serum"), step("centella")])

    assert problems(content, SENSITIVE_PROFILES[profile_name]) == ()


@pytest.mark.parametrize("profile_name", list(SENSITIVE_PROFILES))
def test_make_safe_spaces_out_new_actives_for_sensitive_skin(profile_name):
    profile = SENSITIVE_PROFILES[profile_name]
    content = plan(
        am=[step("azelaic_acid"), step("vitamin_c", category="serum")],
        pm=[step("retinol", start_week=2)],
    )

    safe, corrections = make_safe(content, profile=profile)

    assert corrections == ("respaced_new_actives",)
    starts = sorted(s["start_week"] for r in ("am", "pm") for s in safe[r] if s["start_week"] > 1)
    assert starts == [3, 5]
    assert problems(safe, profile) == ()


def test_make_safe_keeps_one_new_active_per_step_for_sensitive_skin():
    profile = SENSITIVE_PROFILES["sensitive skin type"]
    content = plan(pm=[step("azelaic_acid", "niacinamide", name="Azelaic and niacinamide")])
    assert problems(content, profile) == ("several_new_actives_at_once",)

    safe, corrections = make_safe(content, profile=profile)

    assert corrections == ("removed_extra_new_active",)
    assert "azelaic_acid" in actives_in(safe, "pm")
    assert "niacinamide" not in actives_in(safe, "pm")


def test_respacing_past_the_plans_end_extends_it():
    profile = SENSITIVE_PROFILES["sensitive skin type"]
    content = plan(am=[step("azelaic_acid", start_week=8)], pm=[step("retinol", start_week=8)])
    content["duration_weeks"] = 8

    safe, corrections = make_safe(content, profile=profile)

    assert corrections == ("respaced_new_actives", "extended_duration")
    assert safe["duration_weeks"] >= 10
    assert problems(safe, profile) == ()


# --- morning sunscreen -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("morning", "expected"),
    [
        ([CLEANSER, MOISTURISER], ("no_am_sunscreen",)),
        (
            [CLEANSER, MOISTURISER, {**SUNSCREEN, "frequency": "2_3_times_week"}],
            ("no_am_sunscreen",),
        ),
        ([CLEANSER, MOISTURISER, {**SUNSCREEN, "start_week": 3}], ("no_am_sunscreen",)),
        ([CLEANSER, MOISTURISER, {**SUNSCREEN, "actives": []}], ("no_am_sunscreen",)),
        ([CLEANSER, MOISTURISER, step("sunscreen_spf50", category="serum")], ("no_am_sunscreen",)),
        ([CLEANSER, SUNSCREEN, MOISTURISER], ("am_sunscreen_not_last",)),
        ([CLEANSER, MOISTURISER, SUNSCREEN], ()),
    ],
    ids=[
        "none",
        "not daily",
        "not from week one",
        "no sunscreen in it",
        "not a sunscreen step",
        "not last",
        "daily and last",
    ],
)
def test_every_morning_ends_with_sunscreen(morning, expected):
    content = plan()
    content["am"] = numbered(morning)

    assert problems(content) == expected

    safe, _ = make_safe(content, profile=ANYONE)
    last = safe["am"][-1]
    assert (last["category"], last["frequency"], last["start_week"]) == ("sunscreen", "daily", 1)
    assert problems(safe) == ()


def test_sunscreen_only_in_the_evening_does_not_count():
    content = plan(pm=[SUNSCREEN], sunscreen=False)

    assert problems(content) == ("no_am_sunscreen",)
    assert make_safe(content, profile=ANYONE)[1] == ("added_am_sunscreen",)


def test_the_order_field_not_the_list_position_says_which_step_is_last():
    content = plan()
    content["am"] = [{**s, "order": 4 - s["order"]} for s in content["am"]]

    assert problems(content) == ("am_sunscreen_not_last",)


# --- other rules -------------------------------------------------------------------------


def test_a_step_starting_after_the_plan_ends_is_flagged_and_the_plan_extended():
    content = plan(pm=[step("azelaic_acid", start_week=14)])
    assert problems(content) == ("starts_after_plan_ends",)

    safe, corrections = make_safe(content, profile=ANYONE)

    assert corrections == ("extended_duration",)
    assert safe["duration_weeks"] >= 14


def test_a_plan_without_dermatologist_advice_gets_the_standing_red_flags():
    content = {**plan(), "see_dermatologist": []}
    assert problems(content) == ("no_dermatologist_advice",)

    safe, corrections = make_safe(content, profile=ANYONE)

    assert corrections == ("added_dermatologist_advice",)
    assert any("mole" in advice for advice in safe["see_dermatologist"])


def test_make_safe_returns_a_safe_plan_unchanged_and_never_changes_its_input():
    content = plan(am=[step("benzoyl_peroxide")], pm=[step("adapalene")])
    safe_before = copy.deepcopy(content)
    unsafe = plan(pm=[step("adapalene"), step("benzoyl_peroxide")])
    unsafe_before = copy.deepcopy(unsafe)

    assert make_safe(content, profile=ANYONE) == (safe_before, ())
    make_safe(unsafe, profile=ANYONE)

    assert content == safe_before
    assert unsafe == unsafe_before


def test_a_stored_plan_with_decimal_baselines_and_its_record_passes():
    content = {
        **plan(),
        "goals": [{"metric": "acne", "baseline": Decimal("42.5")}],
        "provider": "gemini",
        "model": "gemini-2.5-flash",
        "safety_corrections": ["added_am_sunscreen"],
    }

    assert problems(content) == ()


def test_several_problems_are_all_reported_in_a_stable_order():
    content = plan(am=[step("retinol")], pm=[step("adapalene"), step("glycolic_acid")])
    content["am"] = numbered(content["am"][:-1])

    assert problems(content, PREGNANT) == (
        "retinoid_in_pregnancy",
        "retinoid_in_am",
        "retinoid_with_acid",
        "no_am_sunscreen",
    )


# --- untrusted shapes are rejected, not corrected -------------------------------------------


def test_an_unknown_active_is_rejected_not_corrected():
    content = plan(pm=[step("hydroquinone")])

    assert problems(content) == ("unknown_active",)
    with pytest.raises(UnsafePlan) as caught:
        make_safe(content, profile=ANYONE)
    assert caught.value.problems == ("unknown_active",)


def _set(path: tuple, value):
    def change(content: dict) -> dict:
        target = content
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return content

    return change


def _drop(*path):
    def change(content: dict) -> dict:
        target = content
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return content

    return change


BAD_SHAPES = {
    "not an object": lambda content: ["a", "list"],
    "missing title": _drop("title"),
    "unexpected key": _set(("script",), "<b>hi</b>"),
    "empty title": _set(("title",), "   "),
    "title too long": _set(("title",), "t" * 121),
    "title not text": _set(("title",), 7),
    "duration too short": _set(("duration_weeks",), 1),
    "duration too long": _set(("duration_weeks",), 25),
    "duration as text": _set(("duration_weeks",), "12"),
    "duration as float": _set(("duration_weeks",), 12.0),
    "duration as bool": _set(("duration_weeks",), True),
    "goals not a list": _set(("goals",), {"acne": 42}),
    "goal of unknown metric": _set(("goals", 0, "metric"), "happiness"),
    "goal baseline above 100": _set(("goals", 0, "baseline"), 101),
    "goal baseline NaN": _set(("goals", 0, "baseline"), float("nan")),
    "goal baseline as text": _set(("goals", 0, "baseline"), "42"),
    "goal with extra key": _set(("goals", 0, "target"), 80),
    "morning empty": _set(("am",), []),
    "morning not a list": _set(("am",), "cleanse, moisturise"),
    "nine evening steps": _set(("pm",), numbered([CLEANSER] * 9)),
    "step missing frequency": _drop("pm", 0, "frequency"),
    "step with extra key": _set(("pm", 0, "url"), "https://example.com"),
    "unknown category": _set(("pm", 0, "category"), "mask"),
    "unknown frequency": _set(("pm", 0, "frequency"), "hourly"),
    "start week 0": _set(("pm", 0, "start_week"), 0),
    "start week past 24": _set(("pm", 0, "start_week"), 25),
    "order as bool": _set(("pm", 0, "order"), True),
    "repeated order": _set(("pm", 1, "order"), 1),
    "actives not a list": _set(("pm", 1, "actives"), "ceramides"),
    "active not text": _set(("pm", 1, "actives"), [7]),
    "active twice": _set(("pm", 1, "actives"), ["ceramides", "ceramides"]),
    "five actives in a step": _set(
        ("pm", 1, "actives"),
        ["ceramides", "panthenol", "centella", "hyaluronic_acid", "niacinamide"],
    ),
    "how too long": _set(("pm", 0, "how"), "h" * 301),
    "empty step name": _set(("pm", 0, "name"), ""),
    "cautions not a list": _set(("cautions",), "Patch-test."),
    "caution too long": _set(("cautions",), ["c" * 301]),
    "thirteen cautions": _set(("cautions",), ["Patch-test."] * 13),
    "dermatologist advice not text": _set(("see_dermatologist",), [None]),
    "provider not text": _set(("provider",), 1),
    "corrections not a list": _set(("safety_corrections",), "none"),
}


@pytest.mark.parametrize("change", list(BAD_SHAPES.values()), ids=list(BAD_SHAPES))
def test_a_plan_of_the_wrong_shape_is_rejected_not_corrected(change):
    content = change(plan())

    assert problems(content) == ("bad_shape",)
    with pytest.raises(UnsafePlan) as caught:
        make_safe(content, profile=ANYONE)
    assert caught.value.problems == ("bad_shape",)
