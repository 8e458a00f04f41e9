"""Measured and judged kept apart: how a model's analysis and the pipeline's measures of the
same photo are put together, and how stored analyses read back."""

import pytest

from ai.analysis import (
    COLOUR_METRICS,
    LEGACY_MEASURED_BY,
    InvalidAnalysis,
    SkinAnalysis,
    metrics_to_judge,
    readable,
    with_measurements,
)
from skincare.metrics import MEASURED, METRICS, MODEL
from tests.fake_gemini import valid_analysis_answer


def pipeline_result(scores: dict[str, float], *, reasons: tuple[str, ...] = ()) -> SkinAnalysis:
    """A pipeline's analysis that measured exactly ``scores`` (every other metric null)."""
    return SkinAnalysis.from_dict(
        {
            "overall_score": None,
            "skin_type": None,
            "metrics": {
                name: {"score": score, "confidence": 0.5} for name, score in scores.items()
            },
            "regions": {"nose": {name: score - 1 for name, score in scores.items()}},
            "concerns": [],
            "image_quality": {"acceptable": not reasons, "reasons": list(reasons)},
            "summary": "Offline heuristic estimate.",
            "red_flags": [],
        },
        provider="offline",
        model="dermalens-offline",
        heuristic=True,
        source=MEASURED,
        measured_by="dermalens-offline-test-7",
    )


def model_answer() -> SkinAnalysis:
    return SkinAnalysis.from_dict(
        valid_analysis_answer(), provider="gemini", model="gemini-test", source=MODEL
    )


def test_a_metric_the_pipeline_starts_measuring_stays_measured_without_a_list_to_update():
    # Wrinkles and eye bags are not measured by today's pipeline; once it returns them,
    # they are measured, read from its result.
    measured = pipeline_result({"redness": 61.5, "wrinkles": 77.0, "eye_bags": 40.0})

    analysis = with_measurements(model_answer(), measured=measured)

    for name, score in (("redness", 61.5), ("wrinkles", 77.0), ("eye_bags", 40.0)):
        assert (analysis.metrics[name].score, analysis.metrics[name].source) == (score, MEASURED)
    answer = valid_analysis_answer()["metrics"]
    for name in set(METRICS) - {"redness", "wrinkles", "eye_bags"}:
        assert analysis.metrics[name].source == MODEL
        assert analysis.metrics[name].score == answer[name]["score"]


def test_a_metric_the_pipeline_could_not_measure_in_this_photo_is_left_to_the_model():
    measured = pipeline_result({"redness": 61.5})  # e.g. no eyes found: no dark circles

    analysis = with_measurements(model_answer(), measured=measured)

    assert analysis.metrics["eye_bags"].source == MODEL
    assert analysis.metrics["eye_bags"].score == 79


def test_region_scores_follow_their_metrics_source():
    measured = pipeline_result({"oiliness": 50.0})

    analysis = with_measurements(model_answer(), measured=measured)

    # The model said nose oiliness 45 and pores 52; the pipeline measured oiliness (49).
    assert analysis.regions["nose"] == {"pores": 52, "oiliness": 49.0}


def test_the_overall_score_and_image_quality_are_the_pipelines():
    measured = pipeline_result({"redness": 60.0, "acne": 81.0}, reasons=("blurry",))

    analysis = with_measurements(model_answer(), measured=measured)

    assert analysis.overall_score == 70.5
    assert analysis.image_quality == measured.image_quality
    assert analysis.summary == valid_analysis_answer()["summary"]


def test_under_a_colour_cast_the_colour_metrics_stay_unscored_whatever_the_model_says():
    measured = pipeline_result({"texture": 88.0}, reasons=("colour_cast",))

    analysis = with_measurements(model_answer(), measured=measured)

    for name in COLOUR_METRICS:
        assert analysis.metrics[name].score is None, name
        assert analysis.metrics[name].source == MEASURED, name
    assert "oiliness" not in analysis.regions["nose"]
    assert analysis.metrics["pores"].source == MODEL
    assert set(metrics_to_judge(measured)) == set(METRICS) - {"texture", *COLOUR_METRICS}


def test_in_uneven_light_the_under_eyes_and_redness_stay_unscored_whatever_the_model_says():
    measured = pipeline_result({"texture": 88.0}, reasons=("uneven_light",))

    analysis = with_measurements(model_answer(), measured=measured)

    for name in ("dark_circles", "eye_bags", "redness"):
        assert analysis.metrics[name].score is None, name
        assert analysis.metrics[name].source == MEASURED, name
    assert analysis.metrics["acne"].source == MODEL
    assert set(metrics_to_judge(measured)) == set(METRICS) - {
        "texture",
        "dark_circles",
        "eye_bags",
        "redness",
    }


def test_with_nothing_measured_the_model_scores_everything():
    analysis = with_measurements(
        model_answer(), measured=pipeline_result({}, reasons=("too_little_skin",))
    )

    assert {metric.source for metric in analysis.metrics.values()} == {MODEL}
    assert analysis.overall_score == 72


def test_a_model_cannot_call_its_own_scores_measured():
    answer = valid_analysis_answer()
    answer["metrics"]["acne"]["source"] = "measured"

    analysis = SkinAnalysis.from_dict(answer, provider="gemini", model="m", source=MODEL)

    assert analysis.metrics["acne"].source == MODEL


def test_a_stored_source_must_be_a_known_one():
    stored = model_answer().to_dict()
    stored["metrics"]["acne"]["source"] = "guessed"

    with pytest.raises(InvalidAnalysis, match=r"metrics\.acne\.source"):
        SkinAnalysis.from_dict(stored)


@pytest.mark.parametrize(("heuristic", "source"), [(True, MEASURED), (False, MODEL)])
def test_an_analysis_stored_before_sources_reads_back_with_them(heuristic, source):
    stored = {**model_answer().to_dict(), "heuristic": heuristic}
    for entry in stored["metrics"].values():
        del entry["source"]

    shown = readable(stored)

    assert {entry["source"] for entry in shown["metrics"].values()} == {source}
    assert SkinAnalysis.from_dict(stored).metrics["acne"].source == source
    assert "source" not in stored["metrics"]["acne"], "the stored item is not changed"


def test_an_analysis_with_sources_and_its_version_reads_back_as_it_is():
    stored = with_measurements(model_answer(), measured=pipeline_result({"acne": 80.0})).to_dict()

    assert readable(stored) is stored


def test_the_version_that_measured_an_analysis_is_the_pipelines_never_the_models():
    answer = {**valid_analysis_answer(), "measured_by": 12}
    judged = SkinAnalysis.from_dict(answer, provider="gemini", model="m", source=MODEL)
    assert judged.measured_by is None

    analysis = with_measurements(judged, measured=pipeline_result({"redness": 61.5}))

    assert analysis.measured_by == "dermalens-offline-test-7"
    stored = analysis.to_dict()
    assert SkinAnalysis.from_dict(stored) == analysis
    assert readable(stored)["measured_by"] == "dermalens-offline-test-7"


def test_an_analysis_stored_before_versions_reads_back_as_the_first_version():
    stored = model_answer().to_dict()
    del stored["measured_by"]

    assert readable(stored)["measured_by"] == LEGACY_MEASURED_BY
    assert "measured_by" not in stored, "the stored item is not changed"
