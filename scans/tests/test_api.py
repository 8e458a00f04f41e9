"""Scan endpoints through the HTTP API: DynamoDB Local, local files or moto's S3."""

import dataclasses
import io
import urllib.request
from datetime import UTC, datetime

import numpy as np
import pillow_heif
import pytest
from PIL import ExifTags, Image, ImageEnhance, ImageFilter
from rest_framework.test import APIClient
from ulid import ULID

from ai.analysis import LEGACY_MEASURED_BY
from ai.offline import ENGINE
from dynamo.scans import scans_table
from scans import storage
from scans.tests.conftest import encode, face_photo, photo_with_gps, truncated, upload_file
from tests import photos

SCANS = "/api/v1/scans"


def error_code(response) -> str:
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]["code"]


def stored_image(scan: dict, user_id: str) -> Image.Image:
    data = storage.read_scan_file(storage.image_key(user_id, scan["scan_id"]))
    return Image.open(io.BytesIO(data))


def redder(photo: Image.Image) -> Image.Image:
    """Redder skin, not a red light: the whites of the eyes stay white."""
    return Image.fromarray(photos.redder(np.asarray(photo.convert("RGB"))))


def as_close_up(client, scan: dict, *, area: str) -> dict:
    """A copy of ``scan`` (its photo and analysis, which passed the quality checks) stored
    as a newer scan of ``area``, as a close-up of it would be: the sample portrait is too
    small for a sharp close-up of its own."""
    user_id = client.session_data["user"]["user_id"]
    stored = scans_table().get(user_id, scan["scan_id"])
    later = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    copy = dataclasses.replace(
        stored, scan_id=str(ULID()), area=area, scanned_at=later, created_at=later
    )
    scans_table().create(copy)
    return client.get(f"{SCANS}/{copy.scan_id}").json()


# Edits of a good face photo that the analysis scores but flags as not acceptable.
POOR_PHOTOS = {
    "dark": lambda photo: ImageEnhance.Brightness(photo).enhance(0.3),
    "blurred": lambda photo: photo.filter(ImageFilter.GaussianBlur(3)),
    "flat": lambda photo: ImageEnhance.Contrast(photo).enhance(0.3),
}


class TestUpload:
    def test_an_upload_is_stored_analysed_offline_and_shown_back(self, auth_client, upload):
        response = upload(area="face", notes="after a week of the new cleanser")
        assert response.status_code == 201, response.content
        scan = response.json()
        assert scan["status"] == "complete"
        assert scan["failure_reason"] is None
        assert scan["notes"] == "after a week of the new cleanser"
        analysis = scan["analysis"]
        assert analysis["provider"] == "offline"
        assert analysis["heuristic"] is True
        assert 0 <= analysis["overall_score"] <= 100
        assert set(analysis["metrics"]) >= {"acne", "redness", "oiliness", "dark_circles"}
        image = auth_client.get(scan["image_url"])
        assert image.status_code == 200
        assert Image.open(io.BytesIO(b"".join(image.streaming_content))).format == "JPEG"
        thumbnail = auth_client.get(scan["thumbnail_url"])
        small = Image.open(io.BytesIO(b"".join(thumbnail.streaming_content)))
        assert max(small.size) <= 320

    def test_the_stored_copy_is_upright_and_has_no_metadata(self, auth_client, upload):
        response = upload(photo_with_gps(orientation=6))
        assert response.status_code == 201, response.content
        user_id = auth_client.session_data["user"]["user_id"]
        picture = stored_image(response.json(), user_id)
        assert picture.size == (512, 640)  # the rotate-90 tag was applied
        assert dict(picture.getexif()) == {}
        assert "exif" not in picture.info
        assert "comment" not in picture.info
        assert "xmp" not in picture.info and "icc_profile" not in picture.info

    def test_a_webp_photo_is_stored_upright_and_without_metadata_too(self, auth_client, upload):
        # WebP goes through its own decoder (OpenCV's); the EXIF still turns it upright.
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = 6
        exif[ExifTags.Base.Make] = "PhoneMaker"
        picture = face_photo().resize((640, 512))
        response = upload(encode(picture, "WEBP", quality=90, exif=exif))
        assert response.status_code == 201, response.content
        user_id = auth_client.session_data["user"]["user_id"]
        stored = stored_image(response.json(), user_id)
        assert stored.size == (512, 640)
        assert dict(stored.getexif()) == {}
        assert "exif" not in stored.info
        # Rotated the right way (-90 degrees, as Pillow's exif_transpose does), not mirrored.
        expected = np.asarray(picture.transpose(Image.Transpose.ROTATE_270), dtype=float)
        assert np.abs(np.asarray(stored, dtype=float) - expected).mean() < 6

    def test_a_large_photo_is_stored_at_most_4096_pixels_long(self, auth_client, upload):
        big = face_photo().resize((5000, 3000))
        response = upload(encode(big, quality=70))
        assert response.status_code == 201, response.content
        user_id = auth_client.session_data["user"]["user_id"]
        assert stored_image(response.json(), user_id).size == (4096, 2458)

    @pytest.mark.parametrize("format", ["PNG", "WEBP", "HEIF"])
    def test_png_webp_and_heic_photos_are_accepted(self, upload, format):
        if format == "HEIF":
            data = io.BytesIO()
            pillow_heif.from_pillow(face_photo()).save(data, quality=80)
            data = data.getvalue()
        else:
            data = encode(face_photo(), format)
        response = upload(data)
        assert response.status_code == 201, response.content

    def test_a_phone_jpeg_with_a_second_picture_is_the_photo_it_shows(self, auth_client, upload):
        # Many phones and cameras add a preview (or depth) picture to their JPEGs, in the
        # CIPA multi-picture format (MPF): still one photo, the first picture.
        photo = face_photo().resize((640, 640))
        preview = photo.resize((160, 160)).convert("L").convert("RGB")
        data = io.BytesIO()
        photo.save(data, "MPO", save_all=True, append_images=[preview], quality=90)
        assert Image.open(io.BytesIO(data.getvalue())).format == "MPO"
        response = upload(data.getvalue())
        assert response.status_code == 201, response.content
        user_id = auth_client.session_data["user"]["user_id"]
        stored = stored_image(response.json(), user_id)
        assert stored.size == (640, 640)
        difference = np.abs(np.asarray(stored, dtype=float) - np.asarray(photo, dtype=float))
        assert difference.mean() < 6

    def test_a_retried_upload_with_the_same_idempotency_key_returns_the_first_scan(
        self, auth_client, face_jpeg
    ):
        def send():
            return upload_with_key(auth_client, face_jpeg, "upload-7f3c2a")

        first, second = send(), send()
        assert first.status_code == 201
        assert second.status_code == 200
        assert second.json()["scan_id"] == first.json()["scan_id"]
        assert len(auth_client.get(SCANS).json()["items"]) == 1

    @pytest.mark.parametrize(
        "changed",
        [
            {"image": "the same face, mirrored"},
            {"area": "forehead"},
            {"notes": "after the new serum"},
        ],
        ids=["another photo", "another area", "other notes"],
    )
    def test_a_key_sent_again_with_another_upload_is_422_and_stores_nothing(
        self, auth_client, face_jpeg, changed
    ):
        def send(image: bytes, **fields):
            body = {"image": upload_file(image), **fields}
            return auth_client.post(
                SCANS, body, format="multipart", HTTP_IDEMPOTENCY_KEY="upload-reused-by-a-bug"
            )

        first = send(face_jpeg, area="left_cheek", notes="morning")
        assert first.status_code == 201, first.content
        image = face_jpeg
        if "image" in changed:
            image = encode(Image.open(io.BytesIO(face_jpeg)).transpose(Image.FLIP_LEFT_RIGHT))
        fields = {"area": "left_cheek", "notes": "morning", **changed}
        fields.pop("image", None)
        other = send(image, **fields)
        assert other.status_code == 422, other.content
        assert other.json()["error"]["code"] == "idempotency_key_reused"
        assert [scan["scan_id"] for scan in auth_client.get(SCANS).json()["items"]] == [
            first.json()["scan_id"]
        ]
        retry = send(face_jpeg, area="left_cheek", notes="morning")
        assert (retry.status_code, retry.json()["scan_id"]) == (200, first.json()["scan_id"])

    def test_a_retry_after_its_scan_was_deleted_says_so_and_stores_nothing(
        self, auth_client, face_jpeg
    ):
        first = upload_with_key(auth_client, face_jpeg, "upload-deleted-later")
        assert first.status_code == 201, first.content
        assert auth_client.delete(f"{SCANS}/{first.json()['scan_id']}").status_code == 204
        retry = upload_with_key(auth_client, face_jpeg, "upload-deleted-later")
        assert retry.status_code == 409, retry.content
        assert retry.json()["error"]["code"] == "idempotency_key_scan_deleted"
        assert auth_client.get(SCANS).json()["items"] == []

    def test_a_retry_of_the_day_s_last_analysed_upload_is_that_upload_not_one_past_the_quota(
        self, auth_client, face_jpeg, settings
    ):
        settings.AI_ANALYSES_PER_DAY = 1

        def send():
            return upload_with_key(auth_client, face_jpeg, "upload-last-of-the-day")

        first, retry = send(), send()
        assert (first.status_code, first.json()["status"]) == (201, "complete")
        assert retry.status_code == 200
        assert (retry.json()["scan_id"], retry.json()["status"]) == (
            first.json()["scan_id"],
            "complete",
        )
        assert len(auth_client.get(SCANS).json()["items"]) == 1


def upload_with_key(client, jpeg: bytes, idempotency_key: str):
    """An upload sent with an ``Idempotency-Key`` header, as a retrying app sends it."""
    return client.post(
        SCANS,
        {"image": upload_file(jpeg)},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=idempotency_key,
    )


def bomb_png() -> bytes:
    # 7000 x 7000 = 49 megapixels in a few kilobytes: refused from the header alone.
    return encode(Image.new("1", (7000, 7000)), "PNG")


def animated_webp() -> bytes:
    frames = [face_photo(), face_photo().rotate(10)]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="800" height="800"><rect/></svg>'
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF"


class TestBadImages:
    @pytest.mark.parametrize(
        ("make", "status", "code"),
        [
            (lambda: b"", 400, "empty_image"),
            (lambda: b"this is a text file, not a photo" * 10, 415, "unsupported_image"),
            (lambda: truncated("JPEG"), 400, "corrupt_image"),
            (lambda: truncated("WEBP"), 400, "corrupt_image"),
            (lambda: encode(Image.new("RGB", (1, 1)), "PNG"), 400, "image_too_small"),
            (lambda: encode(face_photo().resize((600, 400)), "PNG"), 400, "image_too_small"),
            (bomb_png, 413, "image_too_large"),
            (animated_webp, 400, "animated_image"),
            (lambda: encode(face_photo(), "GIF"), 415, "unsupported_image"),
            (lambda: SVG, 415, "unsupported_image"),
            (lambda: PDF, 415, "unsupported_image"),
            (lambda: encode(face_photo(), "TIFF"), 415, "unsupported_image"),
        ],
        ids=[
            "zero-bytes",
            "text-named-jpg",
            "truncated-jpeg",
            "truncated-webp",
            "1x1-png",
            "short-side-400",
            "decompression-bomb",
            "animated-webp",
            "gif",
            "svg",
            "pdf",
            "tiff",
        ],
    )
    def test_a_bad_image_is_refused_with_a_clear_code(self, upload, make, status, code):
        response = upload(make())
        assert response.status_code == status, response.content
        assert error_code(response) == code

    def test_an_eleven_megabyte_file_is_413(self, upload):
        response = upload(b"\xff\xd8" + b"\0" * (11 * 1024 * 1024))
        assert response.status_code == 413
        assert error_code(response) in {"request_too_large", "image_too_large"}

    def test_a_field_other_than_image_is_400(self, auth_client, face_jpeg):
        response = auth_client.post(SCANS, {"photo": upload_file(face_jpeg)}, format="multipart")
        assert response.status_code == 400
        details = response.json()["error"]["details"]
        assert "image" in details and "photo" in details

    def test_an_unknown_area_is_400(self, upload):
        response = upload(area="elbow")
        assert response.status_code == 400
        assert "area" in response.json()["error"]["details"]

    def test_nothing_is_stored_for_a_refused_image(self, auth_client, upload):
        upload(b"not an image at all")
        assert auth_client.get(SCANS).json()["items"] == []


class TestHistory:
    def test_scans_are_listed_newest_first_in_pages(self, auth_client, upload):
        ids = [upload().json()["scan_id"] for _ in range(3)]
        first = auth_client.get(SCANS, {"limit": 2}).json()
        assert [s["scan_id"] for s in first["items"]] == ids[::-1][:2]
        second = auth_client.get(SCANS, {"limit": 2, "cursor": first["next_cursor"]}).json()
        assert [s["scan_id"] for s in second["items"]] == [ids[0]]
        assert second["next_cursor"] is None

    def test_a_date_range_outside_the_scans_is_empty(self, auth_client, upload):
        upload()
        past = auth_client.get(SCANS, {"from": "2020-01-01", "to": "2020-12-31"})
        assert past.status_code == 200
        assert past.json()["items"] == []
        today = upload().json()["scanned_at"][:10]
        assert len(auth_client.get(SCANS, {"from": today, "to": today}).json()["items"]) == 2

    @pytest.mark.parametrize("path", [SCANS, f"{SCANS}/progress"])
    @pytest.mark.parametrize(("start", "end"), [("9999-12-31", None), (None, "0001-01-01")])
    def test_a_range_open_at_one_end_from_the_last_or_to_the_first_day_is_empty(
        self, auth_client, upload, path, start, end
    ):
        upload()
        params = {"from": start} if start else {"to": end}
        response = auth_client.get(path, params)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["items"] == [] if path == SCANS else body["scans"] == 0

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 101},
            {"from": "yesterday"},
            {"from": "2026-02-01", "to": "2026-01-01"},
        ],
    )
    def test_bad_list_parameters_are_400(self, auth_client, params):
        response = auth_client.get(SCANS, params)
        assert response.status_code == 400
        assert error_code(response) == "invalid"

    def test_a_progress_range_ending_before_it_starts_is_400(self, auth_client):
        # Found by the fuzzer: DynamoDB refused the BETWEEN and the API answered 500.
        response = auth_client.get(f"{SCANS}/progress", {"from": "0255-02-24", "to": "0210-04-20"})
        assert response.status_code == 400
        assert error_code(response) == "invalid"

    def test_a_tampered_or_foreign_cursor_is_400(self, auth_client, register, upload):
        for _ in range(2):
            upload()
        cursor = auth_client.get(SCANS, {"limit": 1}).json()["next_cursor"]
        tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
        response = auth_client.get(SCANS, {"cursor": tampered})
        assert response.status_code == 400
        assert error_code(response) == "invalid_cursor"
        other = APIClient()
        other.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")
        response = other.get(SCANS, {"cursor": cursor})
        assert response.status_code == 400
        assert error_code(response) == "invalid_cursor"


class TestIsolation:
    def test_another_account_gets_404_for_every_scan_endpoint(self, register, upload):
        scan_id = upload().json()["scan_id"]
        other_scan_id = upload().json()["scan_id"]
        intruder = APIClient()
        intruder.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")
        attempts = [
            intruder.get(f"{SCANS}/{scan_id}"),
            intruder.delete(f"{SCANS}/{scan_id}"),
            intruder.post(f"{SCANS}/{scan_id}/analyze"),
            intruder.get(f"{SCANS}/{scan_id}/overlay", {"metric": "redness"}),
            intruder.get(f"{SCANS}/{scan_id}/compare", {"with": other_scan_id}),
        ]
        assert [r.status_code for r in attempts] == [404] * 5
        assert all(error_code(r) == "not_found" for r in attempts)
        assert intruder.get(SCANS).json()["items"] == []
        assert intruder.get(f"{SCANS}/progress").json()["scans"] == 0

    def test_the_scan_survives_the_intruders_delete(self, auth_client, register, upload):
        scan_id = upload().json()["scan_id"]
        intruder = APIClient()
        intruder.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")
        intruder.delete(f"{SCANS}/{scan_id}")
        assert auth_client.get(f"{SCANS}/{scan_id}").status_code == 200

    def test_scan_endpoints_need_a_token(self, api_client):
        assert api_client.get(SCANS).status_code == 401
        assert api_client.post(SCANS, {}, format="multipart").status_code == 401


class TestDeleteAndUrls:
    def test_delete_removes_the_item_the_image_and_the_thumbnail(self, auth_client, upload):
        scan = upload().json()
        auth_client.get(f"{SCANS}/{scan['scan_id']}/overlay", {"metric": "redness"})
        user_id = auth_client.session_data["user"]["user_id"]
        assert auth_client.delete(f"{SCANS}/{scan['scan_id']}").status_code == 204
        assert auth_client.get(f"{SCANS}/{scan['scan_id']}").status_code == 404
        for key in (
            storage.image_key(user_id, scan["scan_id"]),
            storage.thumbnail_key(user_id, scan["scan_id"]),
            storage.overlay_key(user_id, scan["scan_id"], "redness"),
        ):
            assert storage.read_scan_file(key) is None, key
        assert auth_client.get(scan["image_url"]).status_code == 404
        assert auth_client.delete(f"{SCANS}/{scan['scan_id']}").status_code == 404

    def test_a_tampered_image_url_is_404(self, auth_client, upload):
        url = upload().json()["image_url"]
        assert APIClient().get(url[:-2] + "xx").status_code == 404

    def test_an_image_url_expires(self, auth_client, upload, settings):
        url = upload().json()["image_url"]
        assert APIClient().get(url).status_code == 200
        settings.IMAGE_URL_SECONDS = -1
        assert APIClient().get(url).status_code == 404


class TestAnalysis:
    def test_past_the_daily_quota_the_upload_is_kept_pending_and_analyze_is_429(
        self, auth_client, upload, settings
    ):
        settings.AI_ANALYSES_PER_DAY = 1
        assert upload().json()["status"] == "complete"
        kept = upload()
        assert kept.status_code == 201
        assert kept.json()["status"] == "pending"
        assert kept.json()["failure_reason"] == "quota"
        scan_id = kept.json()["scan_id"]
        refused = auth_client.post(f"{SCANS}/{scan_id}/analyze")
        assert refused.status_code == 429
        assert error_code(refused) == "analysis_quota_exceeded"
        assert 0 < int(refused["Retry-After"]) <= 24 * 60 * 60
        settings.AI_ANALYSES_PER_DAY = 5
        again = auth_client.post(f"{SCANS}/{scan_id}/analyze")
        assert again.status_code == 200
        assert again.json()["status"] == "complete"
        assert again.json()["failure_reason"] is None

    @pytest.mark.parametrize(
        "metric", ["redness", "shine", "spots", "wrinkles", "pores", "dark_circles"]
    )
    def test_an_overlay_is_a_png_of_the_scans_size(self, auth_client, upload, metric):
        scan_id = upload().json()["scan_id"]
        response = auth_client.get(f"{SCANS}/{scan_id}/overlay", {"metric": metric})
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        overlay = Image.open(io.BytesIO(response.content))
        assert overlay.format == "PNG"
        assert overlay.size == (512, 512)
        again = auth_client.get(f"{SCANS}/{scan_id}/overlay", {"metric": metric})
        assert again.content == response.content

    def test_an_unknown_overlay_metric_is_400(self, auth_client, upload):
        scan_id = upload().json()["scan_id"]
        response = auth_client.get(f"{SCANS}/{scan_id}/overlay", {"metric": "hydration"})
        assert response.status_code == 400

    def test_progress_and_compare_follow_the_completed_scans(self, auth_client, upload):
        first = upload().json()
        second = upload(encode(redder(face_photo()))).json()
        progress = auth_client.get(f"{SCANS}/progress").json()
        assert progress["scans"] == 2
        redness = next(m for m in progress["metrics"] if m["metric"] == "redness")
        assert [p["scan_id"] for p in redness["points"]] == [first["scan_id"], second["scan_id"]]
        assert redness["change"] == pytest.approx(redness["latest"] - redness["first"], abs=0.11)
        assert redness["change"] < 0  # the redder photo scores worse
        compared = auth_client.get(
            f"{SCANS}/{second['scan_id']}/compare", {"with": first["scan_id"]}
        ).json()
        assert compared["metrics"]["redness"]["delta"] == pytest.approx(redness["change"], abs=0.11)
        assert compared["other"]["scan_id"] == first["scan_id"]

    def test_progress_past_its_limit_shows_the_newest_scans(self, auth_client, upload):
        # A page holds the newest scans, so that "latest" is the latest; the cursor leads
        # to the ones before (tests/test_progress_pages.py follows a long history).
        scan_ids = [upload().json()["scan_id"] for _ in range(5)]
        progress = auth_client.get(f"{SCANS}/progress", {"limit": 3}).json()
        assert progress["scans"] == 3
        assert progress["next_cursor"] is not None
        for series in progress["metrics"]:
            if series["points"]:
                assert [p["scan_id"] for p in series["points"]] == scan_ids[2:]

    @pytest.mark.parametrize("edit", list(POOR_PHOTOS))
    def test_progress_shows_a_poor_photo_but_measures_the_change_without_it(
        self, auth_client, upload, edit
    ):
        # A dark, blurred or flat photo still gets scores, but they moved with the light
        # and focus, not the skin: the change is from the first to the latest good photo.
        # Enlarged so that the face (368 px) is wide enough for texture to be read.
        def enlarged(photo: Image.Image) -> Image.Image:
            return photo.resize((2048, 2048), Image.Resampling.BICUBIC)

        first = upload(encode(enlarged(face_photo()))).json()
        second = upload(encode(enlarged(redder(face_photo())))).json()
        poor = upload(encode(enlarged(POOR_PHOTOS[edit](face_photo())))).json()
        assert poor["analysis"]["image_quality"]["acceptable"] is False, poor["analysis"]
        progress = auth_client.get(f"{SCANS}/progress").json()
        assert progress["scans"] == 3
        counted = 0
        for series in progress["metrics"]:
            points = {p["scan_id"]: p for p in series["points"]}
            if poor["scan_id"] not in points or len(points) < 3:
                continue
            assert points[poor["scan_id"]]["acceptable"] is False
            assert series["first"] == points[first["scan_id"]]["score"]
            assert series["latest"] == points[second["scan_id"]]["score"]
            assert series["change"] == pytest.approx(series["latest"] - series["first"], abs=0.11)
            assert series["area"] == "face"
            counted += 1
        compared = auth_client.get(
            f"{SCANS}/{poor['scan_id']}/compare", {"with": first["scan_id"]}
        ).json()
        assert compared["comparable"] is False
        assert compared["incomparable_because"] == ["photo_quality"]
        assert all(delta["delta"] is None for delta in compared["metrics"].values())
        scored = [m for m in poor["analysis"]["metrics"].values() if m["score"] is not None]
        if edit == "flat":
            # So flat it has lost its colour too: all in one hue, nothing of it is scored,
            # and the chart still measures the change between the two good photos.
            assert "one_hue" in poor["analysis"]["image_quality"]["reasons"]
            assert scored == []
            changed = [series for series in progress["metrics"] if len(series["points"]) == 2]
            assert len(changed) >= 4, progress["metrics"]
            for series in changed:
                assert series["change"] == pytest.approx(
                    series["latest"] - series["first"], abs=0.11
                )
            return
        assert counted >= min(4, len(scored)) >= 1, progress["metrics"]
        # The photo's own scores are shown, though no change is measured against them.
        assert compared["metrics"]["texture"]["score"] is not None

    def test_progress_measures_the_change_within_one_area(self, auth_client, upload):
        # A cheek close-up beside whole faces: the change is of the latest photo's area.
        faces = [upload().json(), upload(encode(redder(face_photo()))).json()]
        cheek = as_close_up(auth_client, faces[1], area="left_cheek")
        everything = auth_client.get(f"{SCANS}/progress").json()
        assert everything["scans"] == 3
        on_the_cheek = [
            series
            for series in everything["metrics"]
            if cheek["scan_id"] in [p["scan_id"] for p in series["points"]]
        ]
        assert on_the_cheek, everything["metrics"]
        for series in on_the_cheek:
            # Its one cheek photo: nothing to measure a change against.
            assert (series["area"], series["change"]) == ("left_cheek", None), series
            assert series["latest"] == series["points"][-1]["score"]
        only_faces = auth_client.get(f"{SCANS}/progress", {"area": "face"}).json()
        redness = next(m for m in only_faces["metrics"] if m["metric"] == "redness")
        assert [p["scan_id"] for p in redness["points"]] == [f["scan_id"] for f in faces]
        assert redness["change"] < 0 and redness["area"] == "face"
        compared = auth_client.get(
            f"{SCANS}/{cheek['scan_id']}/compare", {"with": faces[0]["scan_id"]}
        ).json()
        assert compared["comparable"] is False
        assert compared["incomparable_because"] == ["different_areas"]
        assert all(delta["delta"] is None for delta in compared["metrics"].values())
        same_area = auth_client.get(
            f"{SCANS}/{faces[1]['scan_id']}/compare", {"with": faces[0]["scan_id"]}
        ).json()
        assert same_area["comparable"] is True and same_area["incomparable_because"] == []

    def test_scores_measured_before_the_pipeline_changed_are_shown_not_compared(
        self, auth_client, upload, settings
    ):
        # A scan analysed before the measures last changed, as stored then: no
        # measured_by, the pipeline's first name. Its redness is from other thresholds.
        old = upload().json()
        user_id = auth_client.session_data["user"]["user_id"]
        stored = scans_table().get(user_id, old["scan_id"], consistent=True)
        legacy = {key: value for key, value in stored.analysis.items() if key != "measured_by"} | {
            "model": LEGACY_MEASURED_BY
        }
        scans_table().update(
            user_id, old["scan_id"], changes={"analysis": legacy}, expected_version=stored.version
        )
        first = upload().json()
        second = upload(encode(redder(face_photo()))).json()
        assert first["analysis"]["measured_by"] == second["analysis"]["measured_by"] == ENGINE

        progress = auth_client.get(f"{SCANS}/progress").json()
        redness = next(m for m in progress["metrics"] if m["metric"] == "redness")
        assert [(p["scan_id"], p["measured_by"]) for p in redness["points"]] == [
            (old["scan_id"], LEGACY_MEASURED_BY),
            (first["scan_id"], ENGINE),
            (second["scan_id"], ENGINE),
        ]
        scores = {p["scan_id"]: p["score"] for p in redness["points"]}
        assert redness["first"] == scores[first["scan_id"]]
        assert redness["change"] == pytest.approx(
            scores[second["scan_id"]] - scores[first["scan_id"]], abs=0.11
        )
        compared = auth_client.get(
            f"{SCANS}/{second['scan_id']}/compare", {"with": old["scan_id"]}
        ).json()
        assert (compared["comparable"], compared["incomparable_because"]) == (
            False,
            ["measured_differently"],
        )
        assert compared["other"]["analysis"]["measured_by"] == LEGACY_MEASURED_BY
        assert all(delta["delta"] is None for delta in compared["metrics"].values())
        listed = auth_client.get(SCANS).json()["items"]
        assert {s["scan_id"]: s["analysis"]["measured_by"] for s in listed} == {
            old["scan_id"]: LEGACY_MEASURED_BY,
            first["scan_id"]: ENGINE,
            second["scan_id"]: ENGINE,
        }
        # A scan not analysed yet (past the day's analyses) has no version to differ by.
        settings.AI_ANALYSES_PER_DAY = 0
        waiting = upload().json()
        assert waiting["analysis"] is None
        compared = auth_client.get(
            f"{SCANS}/{second['scan_id']}/compare", {"with": waiting["scan_id"]}
        ).json()
        assert compared["incomparable_because"] == []
        assert all(delta["delta"] is None for delta in compared["metrics"].values())

    def test_progress_can_be_limited_to_one_metric(self, auth_client, upload):
        first = upload().json()
        second = upload(encode(redder(face_photo()))).json()
        everything = auth_client.get(f"{SCANS}/progress")
        redness_only = auth_client.get(f"{SCANS}/progress", {"metric": "redness"})

        assert redness_only.status_code == 200
        [series] = redness_only.json()["metrics"]
        assert series == next(m for m in everything.json()["metrics"] if m["metric"] == "redness")
        assert [p["scan_id"] for p in series["points"]] == [first["scan_id"], second["scan_id"]]
        assert redness_only.json()["scans"] == 2
        # A year of daily scans is 13 series of 365 points: one is a fraction of the bytes.
        assert len(redness_only.content) * 5 < len(everything.content)
        unknown = auth_client.get(f"{SCANS}/progress", {"metric": "sparkle"})
        assert unknown.status_code == 400
        assert "metric" in unknown.json()["error"]["details"]

    def test_progress_can_be_limited_to_one_area(self, auth_client, upload):
        upload(area="face")
        upload(area="forehead")
        assert auth_client.get(f"{SCANS}/progress", {"area": "forehead"}).json()["scans"] == 1


class TestS3Storage:
    def test_on_s3_the_image_is_private_encrypted_and_reached_by_a_presigned_url(
        self, auth_client, upload, s3_storage
    ):
        response = upload(photo_with_gps())
        assert response.status_code == 201, response.content
        scan = response.json()
        user_id = auth_client.session_data["user"]["user_id"]
        key = storage.image_key(user_id, scan["scan_id"])
        head = s3_storage.head_object(Bucket=s3_storage.bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
        grants = s3_storage.get_object_acl(Bucket=s3_storage.bucket, Key=key)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
        stored = s3_storage.get_object(Bucket=s3_storage.bucket, Key=key)["Body"].read()
        assert dict(Image.open(io.BytesIO(stored)).getexif()) == {}
        assert "X-Amz-Signature=" in scan["image_url"]
        assert "X-Amz-Expires=900" in scan["image_url"]
        with urllib.request.urlopen(scan["image_url"], timeout=10) as fetched:  # noqa: S310
            assert fetched.read() == stored

    def test_uploads_send_no_acl_which_a_bucket_with_acls_disabled_would_refuse(
        self, upload, s3_storage
    ):
        # S3 refuses every ACL but bucket-owner-full-control on a BucketOwnerEnforced
        # bucket (the moto server does not check that, so the request is looked at).
        sent_headers = []
        events = storage.scan_storage().connection.meta.client.meta.events
        events.register(
            "before-send.s3.PutObject",
            lambda request, **_: sent_headers.append({h.lower() for h in request.headers}),
        )

        assert upload().status_code == 201

        assert len(sent_headers) == 2  # the image and its thumbnail
        assert all("x-amz-acl" not in headers for headers in sent_headers)

    def test_deleting_a_scan_on_s3_removes_its_objects(self, auth_client, upload, s3_storage):
        scan = upload().json()
        user_id = auth_client.session_data["user"]["user_id"]
        assert auth_client.delete(f"{SCANS}/{scan['scan_id']}").status_code == 204
        listed = s3_storage.list_objects_v2(Bucket=s3_storage.bucket, Prefix=f"{user_id}/")
        assert listed.get("KeyCount", 0) == 0

    def test_when_s3_is_down_the_upload_is_503_and_no_scan_is_left(
        self, auth_client, upload, s3_storage, settings
    ):
        from dermalens_site.settings import s3_scan_images_storage
        from dynamo.local import free_port

        settings.STORAGES = {
            **settings.STORAGES,
            "scan_images": s3_scan_images_storage(
                s3_storage.bucket, "us-east-1", f"http://127.0.0.1:{free_port()}"
            ),
        }
        response = upload()
        assert response.status_code == 503
        assert error_code(response) == "storage_unavailable"
        assert response["Retry-After"]
        user_id = auth_client.session_data["user"]["user_id"]
        assert scans_table().query_page(user_id, limit=10).items == []


@pytest.mark.parametrize(
    "fields",
    [{"image": "two"}, {"area": ["face", "body"]}],
    ids=["two-photos", "two-areas"],
)
def test_an_upload_that_names_a_field_twice_is_a_400_and_stores_nothing(
    auth_client, face_jpeg, fields
):
    body = {"image": upload_file(face_jpeg), "area": "face", **fields}
    if body["image"] == "two":
        # The second part is not a photo: which of the two counted was Django's choice.
        body["image"] = [upload_file(face_jpeg), upload_file(b"not a photo", name="b.jpg")]
    response = auth_client.post(SCANS, body, format="multipart")
    assert response.status_code == 400, response.content
    name = next(iter(fields))
    assert response.json()["error"]["details"] == {name: ["Give this field once."]}
    assert auth_client.get(SCANS).json()["items"] == []
