"""The latest analysed scan, which every chat message and every drafted plan reads."""

import pytest
from ulid import ULID

from dynamo.client import get_client
from dynamo.scans import scans_table
from dynamo.tests.factories import a_scan, new_user_id
from scans.selectors import latest_completed_scan

ANALYSIS = {"overall_score": 71.5, "metrics": {"acne": {"score": 64.0}}}


# Analyses of complete scans whose photo did not pass the quality checks: scored (a dark
# photo's), or not at all (no face in it).
POOR = {**ANALYSIS, "image_quality": {"acceptable": False, "reasons": ["too_dark"]}}
UNSCORED = {
    "overall_score": None,
    "metrics": {"acne": {"score": None}},
    "image_quality": {"acceptable": False, "reasons": ["no_face"]},
}


def store(user_id: str, statuses: list[str]) -> list[str]:
    """Scans oldest first, one a second apart; a complete one has an analysis (a poor
    photo's, or an unscored one, for "poor" and "unscored", both complete)."""
    ids = []
    for second, status in enumerate(statuses):
        scan_id = str(ULID.from_timestamp(1_700_000_000 + second))
        analysis = {
            "complete": {**ANALYSIS, "overall_score": float(second)},
            "poor": POOR,
            "unscored": UNSCORED,
        }.get(status)
        stored = "complete" if analysis else status
        scans_table().create(a_scan(user_id, scan_id=scan_id, status=stored, analysis=analysis))
        ids.append(scan_id)
    return ids


@pytest.fixture
def queries():
    """The Limit of each Query sent meanwhile."""
    limits: list[int] = []

    def count(params, **kwargs):
        limits.append(params.get("Limit"))

    events = get_client().meta.events
    events.register("provide-client-params.dynamodb.Query", count)
    yield limits
    events.unregister("provide-client-params.dynamodb.Query", count)


def test_the_newest_analysed_scan_is_found_reading_two_scans(queries):
    user_id = new_user_id()
    ids = store(user_id, ["complete", "failed", "complete"])

    found = latest_completed_scan(user_id=user_id)

    assert found.scan_id == ids[-1]
    assert found.analysis["overall_score"] == 2.0
    assert queries == [2]


def test_scans_still_pending_or_failed_are_passed_over_page_after_page(queries):
    user_id = new_user_id()
    ids = store(user_id, ["complete", "complete"] + ["failed", "pending"] * 20)

    found = latest_completed_scan(user_id=user_id)

    assert found.scan_id == ids[1]
    assert queries == [2, 8, 30, 60]


def test_an_analysis_older_than_the_latest_hundred_scans_is_not_looked_for():
    user_id = new_user_id()
    store(user_id, ["complete"] + ["failed"] * 100)

    assert latest_completed_scan(user_id=user_id) is None


def test_a_person_without_scans_has_no_latest_analysis(queries):
    assert latest_completed_scan(user_id=new_user_id()) is None
    assert queries == [2]


@pytest.mark.parametrize(
    "newer",
    [["poor"], ["unscored"], ["poor", "unscored", "failed"], ["unscored"] * 12],
    ids=["a-dark-photo", "no-face", "mixed", "many"],
)
def test_a_newer_photo_that_failed_the_quality_checks_is_passed_over(newer):
    # A plan or a chat answer from a dark photo's scores, or a cat's, would describe the
    # photo: the last good one says how the skin is.
    user_id = new_user_id()
    ids = store(user_id, ["complete", *newer])

    assert latest_completed_scan(user_id=user_id).scan_id == ids[0]


def test_without_a_good_photo_the_newest_with_scores_is_taken():
    user_id = new_user_id()
    ids = store(user_id, ["poor", "unscored", "failed"])

    assert latest_completed_scan(user_id=user_id).scan_id == ids[0]


def test_photos_without_any_score_are_no_latest_analysis():
    user_id = new_user_id()
    store(user_id, ["unscored", "unscored"])

    assert latest_completed_scan(user_id=user_id) is None
