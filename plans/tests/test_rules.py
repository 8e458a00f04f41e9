"""The rule engine: the vocabulary, and the plans ``build_plan`` makes for each kind of person."""

import itertools

import pytest

from ai.analysis import SkinAnalysis
from ai.providers import SkinProfile
from plans.rules import ACTIVE_STEPS, NEW_ACTIVE_SPACING_WEEKS, build_plan
from plans.safety import check_plan
from skincare.actives import ACTIVES, CONCERN_ACTIVES, allergens, is_new_active, kind_of
from skincare.metrics import METRICS
from skincare.routines import FREQUENCIES, STEP_CATEGORIES, TEXT_MAX_CHARS
from tests.fake_gemini import valid_analysis_answer

ACNE_ACTIVES = {"adapalene", "benzoyl_peroxide", "salicylic_acid", "azelaic_acid"}
ACTIVE_NAMES_OF_THREE = {"vitamin_c", "azelaic_acid", "niacinamide"}


def analysis_with(**scores: float | None) -> dict:
    """A stored analysis whose metrics all score 85 (healthy) but for ``scores``."""
    answer = valid_analysis_answer()
    for metric in METRICS:
        answer["metrics"][metric] = {"score": scores.get(metric, 85), "confidence": 0.8}
    return SkinAnalysis.from_dict(answer, provider="gemini", model="test").to_dict()


def actives_in(plan: dict, routine: str | None = None) -> list[str]:
    routines = ("am", "pm") if routine is None else (routine,)
    return [active for name in routines for step in plan[name] for active in step["actives"]]


def kinds_in(plan: dict, routine: str | None = None) -> set[str]:
    return {kind_of(active) for active in actives_in(plan, routine)}


def new_active_starts(plan: dict) -> list[int]:
    starts: dict[str, int] = {}
    for step in plan["am"] + plan["pm"]:
        for active in step["actives"]:
            if is_new_active(active):
                starts[active] = min(starts.get(active, 99), step["start_week"])
    return sorted(starts.values())


PROFILES = {
    "nothing known": SkinProfile(),
    "oily with acne": SkinProfile(skin_type="oily", skin_concerns=("acne", "pores")),
    "sensitive": SkinProfile(skin_type="sensitive", skin_concerns=("redness",)),
    "sensitivity concern": SkinProfile(skin_concerns=("sensitivity", "acne", "texture")),
    "pregnant": SkinProfile(skin_concerns=("acne", "wrinkles"), pregnant_or_breastfeeding=True),
    "avoids actives": SkinProfile(
        skin_concerns=("acne", "pigmentation", "oiliness"),
        sensitivities=("retinoids", "aha_bha", "benzoyl_peroxide", "vitamin_c", "niacinamide"),
    ),
    "fragrance-free": SkinProfile(skin_type="dry", sensitivities=("fragrance", "alcohol")),
}
ANALYSES = {
    "no scan": None,
    "healthy": analysis_with(),
    "acne": analysis_with(acne=35, oiliness=55),
    "severe acne": analysis_with(acne=20, texture=50),
    "everything low": analysis_with(**dict.fromkeys(METRICS, 40)),
    "pigmentation and dryness": analysis_with(pigmentation=45, hydration=50, radiance=60),
    "wrinkles and dark circles": analysis_with(wrinkles=40, dark_circles=45, firmness=60),
}
EVERY_CASE = list(itertools.product(PROFILES, ANALYSES))


@pytest.mark.parametrize(("profile_name", "analysis_name"), EVERY_CASE)
def test_every_plan_the_rules_build_passes_the_safety_check(profile_name, analysis_name):
    profile = PROFILES[profile_name]

    plan = build_plan(analysis=ANALYSES[analysis_name], profile=profile)

    assert check_plan(plan, profile=profile).problems == ()


@pytest.mark.parametrize(("profile_name", "analysis_name"), EVERY_CASE)
def test_sunscreen_is_the_last_morning_step_every_day_from_week_one(profile_name, analysis_name):
    plan = build_plan(analysis=ANALYSES[analysis_name], profile=PROFILES[profile_name])

    last = plan["am"][-1]
    assert last["category"] == "sunscreen"
    assert last["actives"] == ["sunscreen_spf50"]
    assert (last["frequency"], last["start_week"]) == ("daily", 1)
    assert "sunscreen" not in {step["category"] for step in plan["am"][:-1]}


@pytest.mark.parametrize(("profile_name", "analysis_name"), EVERY_CASE)
def test_every_routine_opens_with_a_gentle_cleanser_and_moisturises(profile_name, analysis_name):
    plan = build_plan(analysis=ANALYSES[analysis_name], profile=PROFILES[profile_name])

    for routine in ("am", "pm"):
        categories = [step["category"] for step in plan[routine]]
        assert categories[0] == "cleanser"
        assert "moisturiser" in categories
        assert [step["order"] for step in plan[routine]] == list(range(1, len(plan[routine]) + 1))


@pytest.mark.parametrize(("profile_name", "analysis_name"), EVERY_CASE)
def test_a_retinoid_only_ever_goes_in_the_evening_routine(profile_name, analysis_name):
    plan = build_plan(analysis=ANALYSES[analysis_name], profile=PROFILES[profile_name])

    assert "retinoid" not in kinds_in(plan, "am")


@pytest.mark.parametrize(("profile_name", "analysis_name"), EVERY_CASE)
def test_new_actives_start_in_different_weeks(profile_name, analysis_name):
    plan = build_plan(analysis=ANALYSES[analysis_name], profile=PROFILES[profile_name])

    starts = new_active_starts(plan)
    assert len(starts) == len(set(starts))
    assert all(start <= plan["duration_weeks"] for start in starts)


@pytest.mark.parametrize("analysis_name", list(ANALYSES))
@pytest.mark.parametrize("concern", list(CONCERN_ACTIVES))
def test_a_pregnant_or_breastfeeding_person_never_gets_a_retinoid(analysis_name, concern):
    profile = SkinProfile(skin_concerns=(concern,), pregnant_or_breastfeeding=True)

    plan = build_plan(analysis=ANALYSES[analysis_name], profile=profile)

    assert "retinoid" not in kinds_in(plan)
    assert any("pregnan" in caution for caution in plan["cautions"])


def test_pregnant_acne_gets_azelaic_acid_first():
    profile = SkinProfile(pregnant_or_breastfeeding=True)

    plan = build_plan(analysis=ANALYSES["acne"], profile=profile)

    (first,) = [
        step
        for step in plan["am"] + plan["pm"]
        if step["start_week"] == 1 and any(map(is_new_active, step["actives"]))
    ]
    assert first["actives"] == ["azelaic_acid"]


@pytest.mark.parametrize("profile_name", list(PROFILES))
def test_an_acne_analysis_gets_an_acne_active(profile_name):
    plan = build_plan(analysis=ANALYSES["acne"], profile=PROFILES[profile_name])

    assert ACNE_ACTIVES & set(actives_in(plan))
    assert plan["goals"][0] == {"metric": "acne", "baseline": 35.0}


def test_acne_without_restrictions_pairs_adapalene_at_night_with_benzoyl_peroxide_by_day():
    plan = build_plan(analysis=ANALYSES["acne"], profile=SkinProfile())

    assert "adapalene" in actives_in(plan, "pm")
    assert "benzoyl_peroxide" in actives_in(plan, "am")


@pytest.mark.parametrize(
    ("sensitivity", "kinds"),
    [
        ("retinoids", {"retinoid"}),
        ("aha_bha", {"aha", "bha"}),
        ("benzoyl_peroxide", {"benzoyl_peroxide"}),
        ("vitamin_c", {"vitamin_c"}),
        ("niacinamide", {"niacinamide"}),
    ],
)
@pytest.mark.parametrize("analysis_name", ["acne", "everything low", "pigmentation and dryness"])
def test_an_active_the_person_is_sensitive_to_is_never_chosen(sensitivity, kinds, analysis_name):
    profile = SkinProfile(skin_concerns=("acne", "texture", "pores"), sensitivities=(sensitivity,))

    plan = build_plan(analysis=ANALYSES[analysis_name], profile=profile)

    assert not kinds & kinds_in(plan)


@pytest.mark.parametrize(
    "profile",
    [
        SkinProfile(skin_type="sensitive"),
        SkinProfile(skin_concerns=("sensitivity",)),
    ],
    ids=["sensitive skin type", "sensitivity concern"],
)
def test_sensitive_skin_starts_fewer_new_actives_further_apart_and_less_often(profile):
    usual = build_plan(analysis=ANALYSES["everything low"], profile=SkinProfile())

    plan = build_plan(analysis=ANALYSES["everything low"], profile=profile)

    starts = new_active_starts(plan)
    assert 1 <= len(starts) < len(new_active_starts(usual))
    assert all(later - earlier >= 2 for earlier, later in itertools.pairwise(starts))
    new_steps = [
        step for step in plan["am"] + plan["pm"] if any(map(is_new_active, step["actives"]))
    ]
    assert all(step["frequency"] != "daily" for step in new_steps)
    assert "glycolic_acid" not in actives_in(plan)


def test_new_actives_are_staggered_for_everyone():
    plan = build_plan(analysis=ANALYSES["everything low"], profile=SkinProfile())

    starts = new_active_starts(plan)
    assert starts[0] == 1
    assert all(
        later - earlier >= NEW_ACTIVE_SPACING_WEEKS for earlier, later in itertools.pairwise(starts)
    )


def test_goals_carry_the_targeted_metrics_with_their_baseline_scores():
    plan = build_plan(analysis=ANALYSES["pigmentation and dryness"], profile=SkinProfile())

    assert plan["goals"] == [
        {"metric": "pigmentation", "baseline": 45.0},
        {"metric": "radiance", "baseline": 60.0},
        {"metric": "hydration", "baseline": 50.0},
    ]
    assert {"vitamin_c", "hyaluronic_acid"} <= set(actives_in(plan))


def test_a_stated_concern_is_targeted_even_without_a_scan():
    plan = build_plan(analysis=None, profile=SkinProfile(skin_concerns=("pigmentation",)))

    assert plan["goals"] == [{"metric": "pigmentation", "baseline": None}]
    assert "vitamin_c" in actives_in(plan, "am")


def test_without_scan_or_concerns_the_plan_is_a_gentle_basic_routine():
    plan = build_plan(analysis=None, profile=SkinProfile())

    assert plan["goals"] == []
    assert [step["category"] for step in plan["am"]] == ["cleanser", "moisturiser", "sunscreen"]
    assert [step["category"] for step in plan["pm"]] == ["cleanser", "moisturiser"]
    assert not any(map(is_new_active, actives_in(plan)))


def test_scores_from_an_unacceptable_photo_do_not_drive_the_plan():
    analysis = analysis_with(acne=20)
    analysis["image_quality"] = {"acceptable": False, "reasons": ["blurry"]}

    plan = build_plan(analysis=analysis, profile=SkinProfile())

    assert plan["goals"] == []
    assert not ACNE_ACTIVES & set(actives_in(plan))


def test_scores_the_provider_was_unsure_of_do_not_drive_the_plan():
    analysis = analysis_with(acne=30)
    analysis["metrics"]["acne"]["confidence"] = 0.1

    plan = build_plan(analysis=analysis, profile=SkinProfile())

    assert plan["goals"] == []


def test_the_same_inputs_always_give_the_same_plan():
    profile = PROFILES["sensitivity concern"]

    first = build_plan(analysis=ANALYSES["everything low"], profile=profile)
    second = build_plan(analysis=ANALYSES["everything low"], profile=profile)

    assert first == second


def test_every_plan_says_when_to_see_a_dermatologist():
    plan = build_plan(analysis=ANALYSES["acne"], profile=SkinProfile())

    advice = " ".join(plan["see_dermatologist"]).lower()
    for sign in ("mole", "bleeding", "spread", "nodules", "eyes"):
        assert sign in advice
    assert f"after {plan['duration_weeks']} weeks" in advice


def test_severe_acne_and_the_scans_red_flags_lead_the_dermatologist_advice():
    analysis = analysis_with(acne=20)
    analysis["red_flags"] = ["Irregular dark mole on the left cheek"]

    plan = build_plan(analysis=analysis, profile=SkinProfile())

    first, second = plan["see_dermatologist"][:2]
    assert "Irregular dark mole on the left cheek" in first
    assert "severe acne" in second


def test_ingredient_sensitivities_become_a_caution():
    plan = build_plan(analysis=None, profile=PROFILES["fragrance-free"])

    assert any("fragrance" in c and "drying alcohol" in c for c in plan["cautions"])


# What people write in ``allergies``, and the actives it names.
ALLERGIES = {
    "the probe's three": (("vitamin c", "azelaic acid", "niacinamide"), ACTIVE_NAMES_OF_THREE),
    "capitals and punctuation": (("Vitamin-C serums!",), {"vitamin_c"}),
    "a kind": (("retinoids",), {"adapalene", "retinol", "retinal"}),
    "the acids by family": (
        ("AHAs", "BHA"),
        {"glycolic_acid", "lactic_acid", "mandelic_acid", "salicylic_acid"},
    ),
    "cross-reaction": (("aspirin (salicylates)",), {"salicylic_acid"}),
    "other names": (
        ("ascorbic acid", "nicotinamide", "BPO"),
        {"vitamin_c", "niacinamide", "benzoyl_peroxide"},
    ),
    "a sentence": (("I get hives from benzoyl peroxide",), {"benzoyl_peroxide"}),
    "a molecule's name alone": (
        ("glycolic", "salicylic", "ascorbic"),
        {"glycolic_acid", "salicylic_acid", "vitamin_c"},
    ),
    "prescription retinoids": (("tretinoin (Retin-A)",), {"adapalene", "retinol", "retinal"}),
    "written together": (("vitaminC", "Vitamin B-3"), {"vitamin_c", "niacinamide"}),
    "aspirin's chemical name": (("acetylsalicylic acid",), {"salicylic_acid"}),
    "accents": (("Niacinamidé",), {"niacinamide"}),
    "nothing of ours": (("nickel", "penicillin", "peanuts"), set()),
    "too vague to name one": (("vitamins", "acid"), set()),
}


@pytest.mark.parametrize(("allergies", "named"), ALLERGIES.values(), ids=ALLERGIES.keys())
def test_allergies_name_actives_by_their_names_kinds_and_other_names(allergies, named):
    assert allergens(allergies) == named


@pytest.mark.parametrize(("allergies", "named"), ALLERGIES.values(), ids=ALLERGIES.keys())
@pytest.mark.parametrize("analysis_name", list(ANALYSES))
def test_an_active_the_person_is_allergic_to_is_never_chosen_and_they_are_told(
    allergies, named, analysis_name
):
    concerns = ("acne", "pigmentation", "wrinkles", "texture", "redness", "dryness")
    profile = SkinProfile(skin_concerns=concerns, allergies=allergies)

    plan = build_plan(analysis=ANALYSES[analysis_name], profile=profile)

    assert not named & set(actives_in(plan))
    assert check_plan(plan, profile=profile).ok
    [caution] = [caution for caution in plan["cautions"] if "allergic" in caution]
    assert all(allergy.strip() in caution for allergy in allergies)


def test_every_allergy_is_named_however_many_and_long_they_are():
    allergies = tuple(
        f"allergen number {n} with a long chemical name, {'x' * 8}" for n in range(10)
    )
    profile = SkinProfile(skin_concerns=("acne",), allergies=allergies)

    plan = build_plan(analysis=ANALYSES["acne"], profile=profile)

    named = [caution for caution in plan["cautions"] if "allergic to" in caution]
    assert len(named) > 1
    assert all(len(caution) <= TEXT_MAX_CHARS for caution in plan["cautions"])
    assert all(sum(allergy in c for c in named) == 1 for allergy in allergies)
    assert named[0].startswith("Check every product's full ingredient list")
    assert check_plan(plan, profile=profile).ok


def test_a_concern_none_of_whose_actives_the_person_may_use_is_not_claimed():
    profile = SkinProfile(
        skin_concerns=("dryness",), allergies=("ceramides", "hyaluronic acid", "panthenol")
    )

    plan = build_plan(analysis=ANALYSES["pigmentation and dryness"], profile=profile)

    assert "dryness" not in plan["title"].lower()
    assert not {"ceramides", "hyaluronic_acid", "panthenol"} & set(actives_in(plan))
    assert check_plan(plan, profile=profile).ok


def test_another_active_of_a_concern_stands_in_for_one_the_person_is_allergic_to():
    profile = SkinProfile(skin_concerns=("pigmentation",), allergies=("vitamin c",))

    plan = build_plan(analysis=ANALYSES["pigmentation and dryness"], profile=profile)

    assert "vitamin_c" not in actives_in(plan)
    assert {"azelaic_acid", "niacinamide"} & set(actives_in(plan))


def test_someone_allergic_to_ceramides_gets_a_plain_moisturiser_and_a_safe_plan():
    profile = SkinProfile(skin_type="dry", allergies=("ceramides",))

    plan = build_plan(analysis=ANALYSES["pigmentation and dryness"], profile=profile)

    moisturisers = [
        step for r in ("am", "pm") for step in plan[r] if step["category"] == "moisturiser"
    ]
    assert len(moisturisers) == 2
    assert all(step["actives"] == [] for step in moisturisers)
    assert "ceramides" not in actives_in(plan)
    assert check_plan(plan, profile=profile).ok


def test_a_retinoid_plan_for_someone_who_did_not_say_about_pregnancy_warns_them():
    plan = build_plan(analysis=ANALYSES["acne"], profile=SkinProfile())

    assert "retinoid" in kinds_in(plan)
    assert any("update your profile" in caution for caution in plan["cautions"])


# --- the vocabulary ------------------------------------------------------------------


def test_every_active_has_a_label_a_kind_and_a_step_in_the_rules_words():
    assert set(ACTIVE_STEPS) == set(ACTIVES)
    for active, entry in ACTIVES.items():
        assert set(entry) == {"label", "kind"}, active
        category, how = ACTIVE_STEPS[active]
        assert category in STEP_CATEGORIES
        assert len(how) <= TEXT_MAX_CHARS


def test_every_concern_candidate_is_a_known_active():
    for concern, candidates in CONCERN_ACTIVES.items():
        assert set(candidates) <= set(ACTIVES), concern


def test_no_prescription_strength_retinoid_beyond_adapalene():
    retinoids = {active for active, entry in ACTIVES.items() if entry["kind"] == "retinoid"}

    assert retinoids == {"adapalene", "retinol", "retinal"}
    assert "0.1%" in ACTIVES["adapalene"]["label"]
    assert "tretinoin" not in " ".join(entry["label"].lower() for entry in ACTIVES.values())


def test_frequencies_run_from_most_to_least_often():
    assert FREQUENCIES == ("daily", "every_other_day", "2_3_times_week", "weekly")
