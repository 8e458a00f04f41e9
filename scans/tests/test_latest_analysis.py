"""The latest analysed scan, which every chat message and every drafted plan reads."""

import pytest
from ulid import ULID

from dynamo.client import get_client
from dynamo.scans import scans_table
from dynamo.tests.factories import a_scan, new_user_id
from scans.selectors import latest_completed_scan

ANALYSIS = {"overall_score": 71.5, "metrics": {"acne": {"score": 64.0}}}


def store(user_id: str, statuses: list[str]) -> list[str]:
    """Scans oldest first, one a second apart; a complete one has an analysis."""
    ids = []
    for second, status in enumerate(statuses):
        scan_id = str(ULID.from_timestamp(1_700_000_000 + second))
        analysis = {**ANALYSIS, "overall_score": float(second)} if status == "complete" else None
        scans_table().create(a_scan(user_id, scan_id=scan_id, status=status, analysis=analysis))
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
