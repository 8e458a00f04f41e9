"""Scans analysed by Gemini: the real google-genai client against the fake Gemini server.

Whatever the provider does, the upload is stored and ends with the right status. What
the pixel pipeline measures stays measured: the model only adds what it cannot measure.
"""

import io
import json

import pytest
from PIL import Image

from dynamo.scans import scans_table
from tests import photos
from tests.fake_gemini import FakeResponse, valid_analysis_answer

SCANS = "/api/v1/scans"


def out_of_range() -> FakeResponse:
    answer = valid_analysis_answer()
    answer["metrics"]["acne"]["score"] = 140
    return FakeResponse.json_answer(answer)


@pytest.fixture
def gemini_uploads(gemini_settings, fake_gemini, auth_client, upload):
    def send(*script: FakeResponse):
        for response in script:
            fake_gemini.enqueue(response)
        return upload()

    return send


def test_a_gemini_analysis_is_validated_and_stored(gemini_uploads, auth_client, fake_gemini):
    response = gemini_uploads(FakeResponse.json_answer(valid_analysis_answer()))
    assert response.status_code == 201
    scan = response.json()
    assert scan["status"] == "complete"
    assert scan["analysis"]["provider"] == "gemini"
    assert scan["analysis"]["heuristic"] is False
    assert len(fake_gemini.requests) == 1
    stored = auth_client.get(f"{SCANS}/{scan['scan_id']}").json()
    assert stored["analysis"] == scan["analysis"]


def test_a_429_then_success_is_retried_and_completes(gemini_uploads, fake_gemini):
    response = gemini_uploads(
        FakeResponse.status(429), FakeResponse.json_answer(valid_analysis_answer())
    )
    assert response.json()["status"] == "complete"
    assert len(fake_gemini.requests) == 2


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ([FakeResponse.status(500)] * 3, "provider_unavailable"),
        ([FakeResponse.status(429)] * 3, "rate_limited"),
        ([FakeResponse.malformed()], "invalid_response"),
        ([out_of_range()], "invalid_response"),
        ([FakeResponse.safety_block()], "safety_block"),
        ([FakeResponse.safety_block(in_candidate=True)], "safety_block"),
        (
            [FakeResponse.safety_block(in_candidate=True, finish_reason="RECITATION")],
            "invalid_response",
        ),
    ],
    ids=[
        "500",
        "429-always",
        "malformed-json",
        "out-of-range",
        "prompt-blocked",
        "answer-blocked",
        "recitation",
    ],
)
def test_a_failed_analysis_keeps_the_scan_failed_with_its_reason(
    gemini_uploads, auth_client, script, reason
):
    response = gemini_uploads(*script)
    assert response.status_code == 201
    scan = response.json()
    assert scan["status"] == "failed"
    assert scan["failure_reason"] == reason
    assert scan["analysis"] is None
    user_id = auth_client.session_data["user"]["user_id"]
    assert scans_table().get(user_id, scan["scan_id"]).status == "failed"
    assert auth_client.get(scan["image_url"]).status_code == 200


def test_a_timeout_fails_the_analysis_and_analyze_completes_it_later(
    gemini_uploads, auth_client, settings
):
    settings.GEMINI_TIMEOUT_SECONDS = 1.0
    settings.GEMINI_MAX_ATTEMPTS = 1
    from ai.providers import forget_providers

    forget_providers()
    response = gemini_uploads(FakeResponse.timeout(3))
    scan = response.json()
    assert scan["status"] == "failed"
    assert scan["failure_reason"] == "timeout"
    again = auth_client.post(f"{SCANS}/{scan['scan_id']}/analyze")
    assert again.status_code == 200
    assert again.json()["status"] == "complete"
    assert again.json()["failure_reason"] is None


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (FakeResponse.status(400), "provider_rejected"),
        # Withheld as too close to a published image or text: not the photo's doing.
        (
            FakeResponse.safety_block(in_candidate=True, finish_reason="RECITATION"),
            "invalid_response",
        ),
        (
            FakeResponse.safety_block(in_candidate=True, finish_reason="IMAGE_RECITATION"),
            "invalid_response",
        ),
        # Blocked for reasons Gemini does not give: nothing says the photo was the cause.
        (FakeResponse.safety_block(block_reason="OTHER"), "invalid_response"),
    ],
    ids=["rejected", "recitation", "image-recitation", "blocked-for-no-reason-given"],
)
def test_an_analysis_the_provider_did_not_give_does_not_use_up_the_days_allowance(
    gemini_uploads, auth_client, fake_gemini, settings, script, reason
):
    settings.AI_ANALYSES_PER_DAY = 1
    failed = gemini_uploads(script).json()
    assert (failed["status"], failed["failure_reason"]) == ("failed", reason)
    fake_gemini.enqueue(FakeResponse.json_answer(valid_analysis_answer()))
    again = auth_client.post(f"{SCANS}/{failed['scan_id']}/analyze")
    assert again.status_code == 200, again.content
    assert again.json()["status"] == "complete"
    # That analysis counted: the day's one is used.
    assert gemini_uploads().json()["failure_reason"] == "quota"


def test_a_photo_refused_for_what_it_shows_counts_against_the_allowance(
    gemini_uploads, auth_client, settings
):
    settings.AI_ANALYSES_PER_DAY = 1
    failed = gemini_uploads(FakeResponse.safety_block()).json()
    assert failed["failure_reason"] == "safety_block"
    again = auth_client.post(f"{SCANS}/{failed['scan_id']}/analyze")
    assert again.status_code == 429
    assert again.json()["error"]["code"] == "analysis_quota_exceeded"


def test_a_failed_analysis_is_listed_for_the_ops_dashboard(gemini_uploads):
    from dynamo.audit import audit_table

    scan = gemini_uploads(FakeResponse.malformed()).json()
    failures = audit_table().recent_failed_analyses(days=1, limit=500)
    logged = [f for f in failures if f.scan_id == scan["scan_id"]]
    assert [f.reason for f in logged] == ["invalid_response"]


# --- measured numbers stay measured ------------------------------------------------------


def answer_scoring_everything(score: float) -> dict:
    """A valid answer that gives every metric and region the same score (a moody model)."""
    answer = valid_analysis_answer()
    for name in answer["metrics"]:
        answer["metrics"][name] = {"score": score, "confidence": 0.9}
    answer["regions"] = {region: {"acne": score, "redness": score} for region in answer["regions"]}
    answer["overall_score"] = score
    return answer


def measured_part(analysis: dict) -> dict:
    return {
        name: entry for name, entry in analysis["metrics"].items() if entry["source"] == "measured"
    }


def context_block(request) -> dict:
    from ai.prompts import CONTEXT_END, CONTEXT_START

    (content,) = request.body["contents"]
    text = "\n".join(part["text"] for part in content["parts"] if "text" in part)
    return json.loads(text.split(CONTEXT_START, 1)[1].split(CONTEXT_END, 1)[0])


def test_the_same_photo_gets_the_same_measured_scores_however_the_model_scores_it(
    gemini_uploads,
):
    first = gemini_uploads(FakeResponse.json_answer(answer_scoring_everything(95))).json()
    second = gemini_uploads(FakeResponse.json_answer(answer_scoring_everything(15))).json()

    assert first["status"] == second["status"] == "complete"
    assert measured_part(first["analysis"]), "the sample face has measured metrics"
    assert measured_part(first["analysis"]) == measured_part(second["analysis"])
    assert first["analysis"]["overall_score"] == second["analysis"]["overall_score"]
    measured = measured_part(first["analysis"]).keys()
    compared = 0
    for region, scores in first["analysis"]["regions"].items():
        for metric in measured & scores.keys():
            assert scores[metric] == second["analysis"]["regions"][region][metric]
            compared += 1
    assert compared, "the regions hold measured scores"
    # What the model alone judges does follow the model.
    assert first["analysis"]["metrics"]["hydration"]["score"] == 95
    assert second["analysis"]["metrics"]["hydration"]["score"] == 15


def test_metrics_the_pipeline_cannot_measure_come_from_the_model(gemini_uploads):
    scan = gemini_uploads(FakeResponse.json_answer(valid_analysis_answer())).json()

    metrics = scan["analysis"]["metrics"]
    assert {entry["source"] for entry in metrics.values()} == {"measured", "model"}
    for name in ("hydration", "firmness"):
        assert metrics[name]["source"] == "model"
        assert metrics[name]["score"] == valid_analysis_answer()["metrics"][name]["score"]


def test_gemini_is_told_the_measured_values(gemini_uploads, fake_gemini):
    scan = gemini_uploads(FakeResponse.json_answer(valid_analysis_answer())).json()

    (request,) = fake_gemini.requests
    sent = context_block(request)["measured"]
    assert sent["metrics"] == {
        name: {"score": entry["score"], "confidence": entry["confidence"]}
        for name, entry in measured_part(scan["analysis"]).items()
    }
    assert sent["image_quality"] == scan["analysis"]["image_quality"]
    schema = request.body["generationConfig"]["responseSchema"]
    asked = set(schema["properties"]["metrics"]["properties"])
    assert asked.isdisjoint(measured_part(scan["analysis"]))
    assert {"hydration", "firmness"} <= asked


def test_a_face_scan_without_a_face_is_not_scored_even_if_the_model_would(
    gemini_settings, fake_gemini, upload
):
    skin_without_a_face = io.BytesIO()
    Image.new("RGB", (640, 640), (224, 172, 150)).save(skin_without_a_face, format="JPEG")
    fake_gemini.enqueue(FakeResponse.json_answer(answer_scoring_everything(80)))

    response = upload(skin_without_a_face.getvalue(), area="face")

    scan = response.json()
    assert response.status_code == 201
    assert scan["status"] == "complete"
    analysis = scan["analysis"]
    assert analysis["overall_score"] is None
    assert all(entry["score"] is None for entry in analysis["metrics"].values())
    assert analysis["image_quality"]["acceptable"] is False
    assert "no_face" in analysis["image_quality"]["reasons"]
    assert analysis["regions"] == {}
    assert fake_gemini.requests == []


@pytest.mark.parametrize(
    "edges", [{"left": 210}, {"right": 240}, {"top": 110}], ids=["left", "right", "top"]
)
def test_a_face_mostly_outside_the_photo_is_not_scored_even_if_the_model_would(
    gemini_settings, fake_gemini, upload, edges
):
    # The pipeline scores nothing of what is left of the face; the model must not either.
    fake_gemini.enqueue(FakeResponse.json_answer(answer_scoring_everything(80)))

    scan = upload(photos.encode(photos.cut(photos.astronaut(), **edges)), area="face").json()

    assert_not_scored(scan, "face_cropped", "outside the photo")
    assert fake_gemini.requests == []


@pytest.mark.parametrize("colour", [(230, 170, 180), (150, 190, 220)], ids=["pink", "blue"])
def test_a_face_behind_a_mask_is_not_scored_even_if_the_model_would(
    gemini_settings, fake_gemini, upload, colour
):
    # The model, shown a masked face, would score the mask as skin, as the pipeline did.
    fake_gemini.enqueue(FakeResponse.json_answer(answer_scoring_everything(80)))

    scan = upload(photos.encode(photos.with_a_mask(photos.astronaut(), colour)), area="face")

    assert_not_scored(scan.json(), "face_covered", "uncovered")
    assert fake_gemini.requests == []


def assert_not_scored(scan: dict, reason: str, retake: str) -> None:
    """``scan`` complete with nothing scored for ``reason``, its summary saying ``retake``."""
    analysis = scan["analysis"]
    assert scan["status"] == "complete"
    assert reason in analysis["image_quality"]["reasons"]
    assert analysis["overall_score"] is None
    assert all(entry["score"] is None for entry in analysis["metrics"].values())
    assert retake in analysis["summary"]


def test_a_drawn_face_is_not_scored_and_not_sent_to_gemini(gemini_settings, fake_gemini, upload):
    # The model, shown a drawing, would score its paint as skin.
    fake_gemini.enqueue(FakeResponse.json_answer(answer_scoring_everything(80)))

    scan = upload(photos.encode(photos.drawn_face(photos.astronaut())), area="face")

    assert_not_scored(scan.json(), "not_a_photo", "without a filter")
    assert fake_gemini.requests == []


@pytest.mark.parametrize(
    "picture",
    [
        lambda: photos.toned(photos.grace_hopper(), (1.07, 0.74, 0.43)),
        lambda: photos.as_a_statue(photos.astronaut(), "bronze"),
    ],
    ids=["sepia_selfie", "bronze_statue"],
)
def test_a_face_in_one_hue_is_not_scored_and_not_sent_to_gemini(
    gemini_settings, fake_gemini, upload, picture
):
    # The model, shown a sepia filter or a statue, would score its colour as skin.
    fake_gemini.enqueue(FakeResponse.json_answer(answer_scoring_everything(80)))

    scan = upload(photos.encode(picture()), area="face")

    assert_not_scored(scan.json(), "one_hue", "without a filter")
    assert fake_gemini.requests == []


def test_the_openapi_schema_lists_a_covered_face_among_the_photo_s_issues():
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    schemas = response.json()["components"]["schemas"]
    reasons = schemas["ImageQuality"]["properties"]["reasons"]
    assert reasons["items"] == {"$ref": "#/components/schemas/ReasonsEnum"}
    assert "face_covered" in schemas["ReasonsEnum"]["enum"]
    assert "face_covered (a mask" in reasons["description"]


def test_the_openapi_schema_documents_where_a_score_came_from():
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    schemas = response.json()["components"]["schemas"]
    metric = schemas["MetricScore"]
    assert "source" in metric["required"]
    source = metric["properties"]["source"]
    (choices,) = source["allOf"]
    assert schemas[choices["$ref"].rsplit("/", 1)[-1]]["enum"] == ["measured", "model"]
    assert "pixels" in source["description"]


@pytest.mark.parametrize(
    ("provider_fixture", "legacy_source"),
    [("offline", "measured"), ("gemini", "model")],
)
def test_an_analysis_stored_before_sources_reads_back_with_them(
    request, auth_client, upload, provider_fixture, legacy_source
):
    if provider_fixture == "gemini":
        request.getfixturevalue("gemini_settings")
        request.getfixturevalue("fake_gemini").enqueue(
            FakeResponse.json_answer(valid_analysis_answer())
        )
    created = upload().json()
    user_id = auth_client.session_data["user"]["user_id"]
    scan = scans_table().get(user_id, created["scan_id"], consistent=True)
    legacy = {
        **created["analysis"],
        "metrics": {
            name: {key: value for key, value in entry.items() if key != "source"}
            for name, entry in created["analysis"]["metrics"].items()
        },
    }
    scans_table().update(
        user_id, scan.scan_id, changes={"analysis": legacy}, expected_version=scan.version
    )
    assert (
        "source"
        not in scans_table().get(user_id, scan.scan_id, consistent=True).analysis["metrics"]["acne"]
    )

    detail = auth_client.get(f"{SCANS}/{scan.scan_id}")
    listed = auth_client.get(SCANS)

    assert detail.status_code == 200
    for analysis in (
        detail.json()["analysis"],
        next(s for s in listed.json()["items"] if s["scan_id"] == scan.scan_id)["analysis"],
    ):
        assert {entry["source"] for entry in analysis["metrics"].values()} == {legacy_source}
        assert analysis["metrics"]["acne"]["score"] == legacy["metrics"]["acne"]["score"]


def test_progress_points_say_where_each_score_came_from(gemini_uploads, auth_client):
    scan = gemini_uploads(FakeResponse.json_answer(valid_analysis_answer())).json()

    progress = auth_client.get(f"{SCANS}/progress").json()

    sources = {
        series["metric"]: {point["source"] for point in series["points"]}
        for series in progress["metrics"]
        if series["points"]
    }
    expected = {
        name: {entry["source"]}
        for name, entry in scan["analysis"]["metrics"].items()
        if entry["score"] is not None
    }
    assert sources == expected
    assert sources["hydration"] == {"model"}
    assert "measured" in set().union(*sources.values())
