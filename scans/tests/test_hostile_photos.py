"""A photo built to cost its decoder far more than its size says is refused before any
pixel is decoded.

A progressive JPEG is decoded in scans, each of which refines every pixel; nothing in the
format bounds how many a file holds, and a scan that adds nothing is a few bytes. The
sample portrait written progressively (Pillow's encoder, libjpeg's scan script) holds 10
scans, a phone's baseline photo one; the hostile file is the same portrait with one
scan repeated: libjpeg only warns about it, and decodes every copy over the whole picture.
"""

import io
import time

import pytest
from PIL import Image

from scans.images import MAX_JPEG_SCANS, InvalidImage, decode, jpeg_scan_count
from scans.tests.conftest import encode, face_photo
from tests.photos import phone_jpeg

SOS = b"\xff\xda"
EOI = b"\xff\xd9"


def progressive(picture: Image.Image, **options) -> bytes:
    return encode(picture, "JPEG", progressive=True, **options)


def with_a_scan_repeated(jpeg: bytes, times: int) -> bytes:
    """``jpeg`` with its shortest scan (marker, header and data) written ``times`` more
    times before its end (a refinement with little to add is a few hundred bytes)."""
    end = jpeg.rindex(EOI)
    starts = [at for at in range(len(jpeg) - 1) if jpeg[at : at + 2] == SOS]
    scans = [
        jpeg[start:next_start] for start, next_start in zip(starts, [*starts[1:], end], strict=True)
    ]
    return jpeg[:end] + min(scans, key=len) * times + EOI


@pytest.mark.parametrize(
    ("written_as", "scans"),
    [
        (phone_jpeg, 1),
        (lambda: progressive(face_photo()), 10),
        (lambda: progressive(face_photo(), optimize=True), 10),
        (lambda: progressive(face_photo().convert("L")), 6),
        (lambda: progressive(face_photo().convert("CMYK")), 18),
    ],
    ids=["a phone's baseline photo", "progressive", "optimised", "grey", "CMYK"],
)
def test_real_jpegs_hold_a_few_scans_and_decode(written_as, scans):
    jpeg = written_as()
    assert jpeg_scan_count(jpeg) == scans
    assert scans < MAX_JPEG_SCANS
    assert decode(jpeg).width > 0


def test_a_thumbnail_in_the_exif_is_not_counted_as_a_scan_of_the_photo():
    thumbnail = encode(face_photo().resize((160, 160)))
    exif = Image.Exif()
    exif[0x010F] = "Camera"
    picture = face_photo()
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", progressive=True, exif=exif.tobytes() + thumbnail)
    assert jpeg_scan_count(buffer.getvalue()) == 10


def test_a_progressive_jpeg_with_a_scan_repeated_is_refused_as_damaged_at_once():
    picture = face_photo().resize((3000, 3000))
    hostile = with_a_scan_repeated(progressive(picture, quality=50), 3000)
    assert len(hostile) < 2 * 1024 * 1024

    started = time.perf_counter()
    with pytest.raises(InvalidImage) as refused:
        decode(hostile)

    assert refused.value.default_code == "corrupt_image"
    assert refused.value.status_code == 400
    assert time.perf_counter() - started < 0.5


def test_a_jpeg_at_the_scan_limit_still_decodes():
    jpeg = progressive(face_photo())
    at_limit = with_a_scan_repeated(jpeg, MAX_JPEG_SCANS - 10)
    assert jpeg_scan_count(at_limit) == MAX_JPEG_SCANS
    assert decode(at_limit).width > 0
    assert jpeg_scan_count(with_a_scan_repeated(jpeg, MAX_JPEG_SCANS - 9)) > MAX_JPEG_SCANS


def test_an_upload_of_a_scan_bomb_is_a_400_and_stores_nothing(upload, auth_client):
    response = upload(with_a_scan_repeated(progressive(face_photo(), quality=50), 3000))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "corrupt_image"
    assert auth_client.get("/api/v1/scans").json()["items"] == []


def test_counting_the_markers_of_10_mb_of_empty_comments_takes_milliseconds():
    hostile = b"\xff\xd8" + b"\xff\xfe\x00\x02" * 2_500_000  # 2.5 million segments

    started = time.perf_counter()
    assert jpeg_scan_count(hostile) > MAX_JPEG_SCANS
    assert time.perf_counter() - started < 0.1
