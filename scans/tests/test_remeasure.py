"""``manage.py remeasure_scans``: stored scans analysed again after the pipeline changed."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from ai.analysis import LEGACY_MEASURED_BY
from ai.offline import ENGINE
from dynamo.audit import audit_table
from dynamo.scans import scans_table
from scans import storage
from scans.tests.conftest import upload_file
from tests import photos

SCANS = "/api/v1/scans"


def as_stored_before_versions(user_id: str, scan_id: str, *, scores_of: dict | None = None) -> None:
    """Make a stored analysis one of the pipeline before it recorded its version (no
    ``measured_by``, its first name), with the scores of ``scores_of`` if given: what an
    earlier calibration read in the photo."""
    stored = scans_table().get(user_id, scan_id, consistent=True)
    legacy = dict(scores_of or stored.analysis)
    legacy.pop("measured_by", None)
    legacy["model"] = LEGACY_MEASURED_BY
    scans_table().update(
        user_id, scan_id, changes={"analysis": legacy}, expected_version=stored.version
    )


def remeasure(*arguments: str) -> str:
    out = io.StringIO()
    call_command("remeasure_scans", *arguments, stdout=out)
    return out.getvalue()


def user_id_of(client: APIClient) -> str:
    return client.session_data["user"]["user_id"]


def send(client: APIClient, data: bytes) -> dict:
    response = client.post(SCANS, {"image": upload_file(data)}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def redness_series(client: APIClient) -> dict:
    progress = client.get(f"{SCANS}/progress").json()
    return next(series for series in progress["metrics"] if series["metric"] == "redness")


def test_a_masked_photo_scored_by_an_earlier_version_is_read_again_and_progress_counts_it(
    auth_client,
):
    # An earlier calibration scored the skin of a face behind a mask: its scores were the
    # cloth's. Stored as then, the photo reads as today's pipeline reads it once measured
    # again: the face covered, nothing scored, left out of progress.
    user_id = user_id_of(auth_client)
    face = send(auth_client, photos.encode(photos.astronaut()))
    masked = send(
        auth_client, photos.encode(photos.with_a_mask(photos.astronaut(), (230, 150, 170)))
    )
    assert masked["analysis"]["image_quality"]["reasons"] == ["face_covered"]
    for scan in (face, masked):
        as_stored_before_versions(user_id, scan["scan_id"], scores_of=face["analysis"])
    later = send(auth_client, photos.encode(photos.redder(photos.astronaut())))
    before = redness_series(auth_client)
    assert before["first"] == before["latest"]  # one point of this version: no change

    out = remeasure("--user", user_id)

    assert f"{ENGINE}: remeasured 2, image_missing 0, failed 0" in out
    again = auth_client.get(f"{SCANS}/{masked['scan_id']}").json()["analysis"]
    assert again["measured_by"] == ENGINE
    assert again["image_quality"] == {"acceptable": False, "reasons": ["face_covered"]}
    assert again["metrics"]["redness"]["score"] is None
    after = redness_series(auth_client)
    assert {p["measured_by"] for p in after["points"]} == {ENGINE}
    scores = {p["scan_id"]: p["score"] for p in after["points"]}
    assert masked["scan_id"] not in scores
    assert after["change"] == round(scores[later["scan_id"]] - scores[face["scan_id"]], 1)
    assert after["change"] < 0  # the redder photo, against the first face
    # A second run finds nothing left to do.
    assert f"{ENGINE}: remeasured 0" in remeasure("--user", user_id)


def test_one_account_alone_and_a_dry_run_that_changes_nothing(auth_client, register):
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")
    other.session_data = {"user": other.get("/api/v1/users/me").json()}
    mine = send(auth_client, photos.encode(photos.astronaut()))
    theirs = send(other, photos.encode(photos.astronaut()))
    current = send(auth_client, photos.encode(photos.astronaut()))
    for client, scan in ((auth_client, mine), (other, theirs)):
        as_stored_before_versions(user_id_of(client), scan["scan_id"])
    versions = {
        scan["scan_id"]: scans_table().get(user_id_of(client), scan["scan_id"]).version
        for client, scan in ((auth_client, mine), (other, theirs), (auth_client, current))
    }

    # The tables hold other tests' scans too: counts are of one account.
    assert "1 scans measured otherwise" in remeasure("--dry-run", "--user", user_id_of(other))
    remeasure("--dry-run")
    for client, scan in ((auth_client, mine), (other, theirs), (auth_client, current)):
        stored = scans_table().get(user_id_of(client), scan["scan_id"], consistent=True)
        assert stored.version == versions[scan["scan_id"]]

    assert "remeasured 1," in remeasure("--user", user_id_of(auth_client))
    assert "measured_by" not in analysis_of(other, theirs)
    assert analysis_of(auth_client, mine)["measured_by"] == ENGINE

    remeasure()  # every account
    assert analysis_of(other, theirs)["measured_by"] == ENGINE
    # A scan of this version is not analysed again.
    stored = scans_table().get(user_id_of(auth_client), current["scan_id"], consistent=True)
    assert stored.version == versions[current["scan_id"]]


def analysis_of(client: APIClient, scan: dict) -> dict:
    stored = scans_table().get(user_id_of(client), scan["scan_id"], consistent=True)
    return stored.analysis


def test_a_scan_whose_photo_is_gone_keeps_its_analysis(auth_client):
    user_id = user_id_of(auth_client)
    scan = send(auth_client, photos.encode(photos.astronaut()))
    as_stored_before_versions(user_id, scan["scan_id"])
    stored = scans_table().get(user_id, scan["scan_id"], consistent=True)
    storage.scan_storage().delete(stored.image_key)

    assert "remeasured 0, image_missing 1" in remeasure("--user", user_id)

    kept = scans_table().get(user_id, scan["scan_id"], consistent=True)
    assert kept.analysis == stored.analysis and kept.version == stored.version
    # The run is on the account's audit trail, with what it did.
    [entry] = audit_table().entries_about(user_id, limit=10)
    assert (entry.actor_user_id, entry.action) == ("manage.py", "remeasure_scans")
    assert entry.details["engine"] == ENGINE
    assert (entry.details["remeasured"], entry.details["image_missing"]) == (0, 1)


def test_several_scans_at_once_are_each_analysed_once(auth_client):
    user_id = user_id_of(auth_client)
    pictures = [
        photos.astronaut(),
        photos.redder(photos.astronaut()),
        photos.with_dots(photos.astronaut(), (200, 60, 60)),
        photos.with_a_mask(photos.astronaut(), (230, 150, 170)),
        photos.exposed(photos.astronaut(), 0.6),
    ]
    scans = [send(auth_client, photos.encode(picture)) for picture in pictures]
    for scan in scans:
        as_stored_before_versions(user_id, scan["scan_id"])
    versions = {
        scan["scan_id"]: scans_table().get(user_id, scan["scan_id"], consistent=True).version
        for scan in scans
    }

    assert "remeasured 5, image_missing 0, failed 0, scan_changed 0" in remeasure(
        "--user", user_id, "--concurrency", "3"
    )

    for scan in scans:
        stored = scans_table().get(user_id, scan["scan_id"], consistent=True)
        assert stored.version == versions[scan["scan_id"]] + 1  # one write each
        # As the upload's own analysis read the photo (but for when).
        again = {key: value for key, value in stored.analysis.items() if key != "analyzed_at"}
        first = {key: value for key, value in scan["analysis"].items() if key != "analyzed_at"}
        assert again == first


@pytest.mark.parametrize("concurrency", ["0", "33"])
def test_a_concurrency_out_of_range_is_refused(concurrency):
    with pytest.raises(CommandError, match="--concurrency is 1 to 32"):
        remeasure("--concurrency", concurrency)


def test_a_wrong_ai_setting_stops_it_before_any_scan_but_a_dry_run_still_counts(
    auth_client, wrong_ai_setting
):
    scan = send(auth_client, photos.encode(photos.astronaut()))
    as_stored_before_versions(user_id_of(auth_client), scan["scan_id"])
    wrong_ai_setting()
    with pytest.raises(CommandError, match="The AI provider for analysis cannot be made"):
        remeasure("--user", user_id_of(auth_client))
    kept = scans_table().get(user_id_of(auth_client), scan["scan_id"], consistent=True)
    assert (kept.analysis["model"], kept.analysis.get("measured_by")) == (LEGACY_MEASURED_BY, None)
    assert remeasure("--user", user_id_of(auth_client), "--dry-run").startswith("1 scans")


def test_an_id_no_account_has_is_an_error_not_zero_scans():
    with pytest.raises(CommandError, match="No account has the id '01ARZ3NDEKTSV4RRFFQ69G5FAV'"):
        remeasure("--user", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--dry-run")
