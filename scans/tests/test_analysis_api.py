"""What the offline analysis tells a user over the HTTP API, on real photographs: the
sample portrait, edits of it, photos of no face, a turned head and a close-up."""

import io
import json

import numpy as np
import pytest
from PIL import Image
from rest_framework.test import APIClient

from scans.tests.conftest import upload_file
from tests import photos

SCANS = "/api/v1/scans"
MIN_UPLOAD_SIDE_PX = 480  # uploads are refused below this short side


@pytest.fixture
def send(auth_client):
    def post(picture: np.ndarray, area: str = "face", quality: int = 92) -> dict:
        picture = photos.at_least(picture, MIN_UPLOAD_SIDE_PX)
        body = {"image": upload_file(photos.encode(picture, quality)), "area": area}
        response = auth_client.post(SCANS, body, format="multipart")
        assert response.status_code == 201, response.content
        return response.json()

    return post


@pytest.fixture(scope="module")
def large_portrait() -> np.ndarray:
    return photos.large_portrait()


class TestFaceScans:
    def test_a_coffee_cup_uploaded_as_a_face_scan_is_not_scored(self, send):
        scan = send(photos.non_face("coffee"), quality=90)
        analysis = scan["analysis"]
        assert analysis["overall_score"] is None
        assert analysis["image_quality"] == {"acceptable": False, "reasons": ["no_face"]}
        assert all(metric["score"] is None for metric in analysis["metrics"].values())
        assert analysis["regions"] == {}
        assert "No face was found" in analysis["summary"]

    def test_the_portrait_is_scored_on_landmark_regions(self, send):
        analysis = send(photos.astronaut())["analysis"]
        assert analysis["image_quality"] == {"acceptable": True, "reasons": []}
        assert analysis["regions"]["left_cheek"]["redness"] is not None
        assert analysis["regions"]["right_under_eye"]["dark_circles"] is not None
        # 92 px across: too small for pores and lines, which say so instead of guessing.
        assert analysis["metrics"]["pores"]["score"] is None
        assert "pores: the face is 92 px wide" in analysis["summary"]

    def test_a_large_face_has_ten_metrics_scored(self, send, large_portrait):
        analysis = send(large_portrait)["analysis"]
        scored = {name for name, m in analysis["metrics"].items() if m["score"] is not None}
        assert scored == {
            "acne", "redness", "oiliness", "pigmentation", "wrinkles", "pores", "texture",
            "radiance", "dark_circles", "eye_bags",
        }  # fmt: skip
        assert analysis["regions"]["right_crows_feet"]["wrinkles"] is not None

    def test_drawn_fine_lines_and_pores_lower_their_scores(self, send, large_portrait):
        plain = send(large_portrait)["analysis"]["metrics"]
        lined = send(photos.with_fine_lines(large_portrait))["analysis"]["metrics"]
        porous = send(photos.with_pores(large_portrait))["analysis"]["metrics"]
        assert lined["wrinkles"]["score"] < plain["wrinkles"]["score"]
        assert porous["pores"]["score"] < plain["pores"]["score"] - 10

    def test_a_tilted_head_is_flagged_face_turned(self, send):
        analysis = send(photos.rotated(photos.astronaut(), 30))["analysis"]
        assert "face_turned" in analysis["image_quality"]["reasons"]
        assert analysis["image_quality"]["acceptable"] is False

    @pytest.mark.parametrize("edit", [photos.with_closed_eyes, photos.with_sunglasses])
    def test_closed_or_covered_eyes_are_eyes_hidden_and_skip_the_eye_metrics(self, send, edit):
        analysis = send(edit(photos.astronaut()))["analysis"]
        assert "eyes_hidden" in analysis["image_quality"]["reasons"]
        assert analysis["metrics"]["dark_circles"]["score"] is None
        assert analysis["metrics"]["eye_bags"]["score"] is None
        assert analysis["metrics"]["redness"]["score"] is not None
        assert "dark circles, eye bags: the eyes are closed or covered" in analysis["summary"]

    def test_a_warm_lamp_is_flagged_colour_cast_and_redness_not_scored(self, send):
        warm = photos.colour_cast(photos.astronaut(), (1.3, 0.9, 0.8))
        analysis = send(warm)["analysis"]
        # The lamp clips red on most of the skin, too: too_bright as well.
        assert analysis["image_quality"] == {
            "acceptable": False,
            "reasons": ["too_bright", "colour_cast"],
        }
        assert analysis["metrics"]["redness"]["score"] is None
        assert analysis["regions"]["left_cheek"]["redness"] is None
        # Texture is not the cast's to withhold: the 92 px face is too narrow for it.
        assert "texture: the face is 94 px wide and needs 320" in analysis["summary"]
        assert (
            "acne, dark circles, eye bags, radiance: the photo's colour is a lamp's or a filter's"
            in analysis["summary"]
        )

    def test_a_selfie_through_a_sepia_filter_is_one_hue_and_not_scored(self, send):
        # Her eyes show no white, so the filter is seen in the photo's one hue.
        analysis = send(photos.toned(photos.grace_hopper(), (1.07, 0.74, 0.43)))["analysis"]
        assert analysis["image_quality"] == {"acceptable": False, "reasons": ["one_hue"]}
        assert analysis["overall_score"] is None
        assert all(entry["score"] is None for entry in analysis["metrics"].values())
        assert "in daylight, without a filter" in analysis["summary"]

    def test_a_face_a_tenth_of_the_photo_wide_gets_the_under_eye_scores_of_a_nearer_one(self, send):
        # The detector boxes a face this small far too large; the landmarks must still
        # settle on the face, not leave the under-eye regions on the lower lids.
        nearer = send(photos.in_a_scene(0.15, "coffee", (1600, 1200)))["analysis"]
        farther = send(photos.in_a_scene(0.1, "coffee", (1600, 1200)))["analysis"]
        assert farther["image_quality"] == {"acceptable": True, "reasons": []}
        for metric in ("dark_circles", "eye_bags"):
            near, far = nearer["metrics"][metric]["score"], farther["metrics"][metric]["score"]
            assert far == pytest.approx(near, abs=5), metric

    def test_open_eyes_are_not_flagged(self, send):
        analysis = send(photos.astronaut())["analysis"]
        assert "eyes_hidden" not in analysis["image_quality"]["reasons"]

    def test_the_wrinkles_overlay_draws_on_a_large_face(self, auth_client, send, large_portrait):
        scan = send(large_portrait)
        response = auth_client.get(f"{SCANS}/{scan['scan_id']}/overlay", {"metric": "wrinkles"})
        assert response.status_code == 200
        overlay = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
        stored = auth_client.get(scan["image_url"])
        photo = np.asarray(
            Image.open(io.BytesIO(b"".join(stored.streaming_content))).convert("RGB")
        )
        assert overlay.shape == photo.shape
        assert np.abs(overlay.astype(int) - photo).mean() > 0.5


class TestCloseUps:
    def test_a_cheek_close_up_is_scored_as_a_cheek(self, send, large_portrait):
        analysis = send(photos.cheek_close_up(large_portrait), area="left_cheek")["analysis"]
        assert "no_face" not in analysis["image_quality"]["reasons"]
        assert analysis["metrics"]["redness"]["score"] is not None
        assert analysis["metrics"]["dark_circles"]["score"] is None

    @pytest.mark.parametrize("name", ["chelsea", "gravel", "brick"])
    def test_a_cat_gravel_or_brick_is_not_a_cheek(self, send, name):
        analysis = send(photos.non_face(name), area="left_cheek")["analysis"]
        assert "too_little_skin" in analysis["image_quality"]["reasons"]
        assert analysis["overall_score"] is None


class TestSeveralFaces:
    def test_a_photo_of_two_people_is_scored_but_left_out_of_progress(self, auth_client, send):
        first = send(photos.astronaut())
        redder = send(photos.redder(photos.astronaut()))
        two_people = send(photos.with_a_second_face(0.6))
        assert two_people["status"] == "complete"
        assert two_people["analysis"]["image_quality"] == {
            "acceptable": False,
            "reasons": ["several_faces"],
        }
        assert two_people["analysis"]["metrics"]["redness"]["score"] is not None
        progress = auth_client.get(f"{SCANS}/progress").json()
        redness = next(series for series in progress["metrics"] if series["metric"] == "redness")
        points = {point["scan_id"]: point for point in redness["points"]}
        assert points[two_people["scan_id"]]["acceptable"] is False
        assert redness["first"] == points[first["scan_id"]]["score"]
        assert redness["latest"] == points[redder["scan_id"]]["score"]
        assert redness["latest"] != points[two_people["scan_id"]]["score"]
        assert redness["change"] == pytest.approx(redness["latest"] - redness["first"], abs=0.11)
        compared = auth_client.get(
            f"{SCANS}/{two_people['scan_id']}/compare", {"with": first["scan_id"]}
        ).json()
        assert compared["incomparable_because"] == ["photo_quality"]

    def test_two_people_side_by_side_each_a_tenth_of_the_width_are_several_faces(
        self, auth_client, send
    ):
        first = send(photos.astronaut())
        two_people = send(photos.side_by_side(photos.astronaut()))
        assert two_people["analysis"]["image_quality"] == {
            "acceptable": False,
            "reasons": ["several_faces"],
        }
        progress = auth_client.get(f"{SCANS}/progress").json()
        redness = next(series for series in progress["metrics"] if series["metric"] == "redness")
        points = {point["scan_id"]: point for point in redness["points"]}
        assert points[two_people["scan_id"]]["acceptable"] is False
        assert redness["latest"] == points[first["scan_id"]]["score"]

    @pytest.mark.parametrize(
        "picture",
        [
            lambda: photos.astronaut()[4:, 4:],
            lambda: photos.exposed(photos.astronaut(), 0.5),
        ],
        ids=["shifted 4 px", "half as bright"],
    )
    def test_one_person_is_not_several_faces(self, send, picture):
        analysis = send(picture())["analysis"]
        assert "several_faces" not in analysis["image_quality"]["reasons"]


class TestDegradedPhotos:
    """Grain and JPEG blocks make spots, texture and pores out of nothing: such a photo is
    flagged, so a week's progress is not a photo's noise."""

    @pytest.mark.parametrize(
        ("name", "picture", "quality", "reason"),
        [
            ("grain of a dim room", lambda: photos.grainy(photos.astronaut(), 20), 92, "noisy"),
            ("a screen photographed", lambda: photos.on_a_screen(photos.astronaut()), 92, "noisy"),
            ("JPEG quality 10", photos.astronaut, 10, "compressed"),
            ("JPEG quality 8, a large face", photos.large_portrait, 8, "compressed"),
        ],
    )
    def test_a_degraded_photo_is_flagged_and_left_out_of_progress(
        self, auth_client, send, name, picture, quality, reason
    ):
        first = send(photos.astronaut())
        degraded = send(picture(), quality=quality)
        quality_verdict = degraded["analysis"]["image_quality"]
        assert quality_verdict["acceptable"] is False, name
        assert reason in quality_verdict["reasons"], name
        progress = auth_client.get(f"{SCANS}/progress").json()
        acne = next(series for series in progress["metrics"] if series["metric"] == "acne")
        assert acne["latest"] == acne["first"]
        assert acne["latest"] == next(
            point["score"] for point in acne["points"] if point["scan_id"] == first["scan_id"]
        )

    @pytest.mark.parametrize("quality", [60, 95])
    def test_a_sharp_photo_at_ordinary_jpeg_quality_is_not_flagged(self, send, quality):
        analysis = send(photos.astronaut(), quality=quality)["analysis"]
        assert analysis["image_quality"] == {"acceptable": True, "reasons": []}


class TestOverExposure:
    """Where the red channel clips white, the skin's colour no longer says how red it is:
    redness is read from the skin that did not clip."""

    @pytest.mark.parametrize("picture", [photos.astronaut, photos.large_portrait])
    def test_a_photo_exposed_30_percent_brighter_keeps_its_redness(self, send, picture):
        plain = send(picture())["analysis"]["metrics"]["redness"]["score"]
        brighter = send(photos.exposed(picture(), 1.3))["analysis"]["metrics"]["redness"]
        assert brighter["score"] == pytest.approx(plain, abs=5)


class TestSchema:
    def test_the_openapi_schema_documents_the_new_regions_reasons_and_overlays(self):
        response = APIClient().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        assert response.status_code == 200
        schema = json.loads(response.content)
        text = json.dumps(schema)
        for word in ("left_crows_feet", "right_nasolabial", "left_under_eye", "eye_bags"):
            assert word in text, word
        components = schema["components"]["schemas"]
        reasons = json.dumps(components["ImageQuality"])
        assert "face_turned" in reasons and "eyes_hidden" in reasons and "no_face" in reasons
        assert "face_cropped" in reasons and "several_faces" in reasons
        assert "noisy" in reasons and "compressed" in reasons
        overlay = schema["paths"][f"{SCANS}/{{scan_id}}/overlay"]["get"]["parameters"]
        assert "dark_circles" in json.dumps(overlay)
