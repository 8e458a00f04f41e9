"""A damaged photo is refused as an invalid image (a 4xx), whatever the damage.

Real uploads arrive cut short (a dropped connection, a phone that saved half a file) or
with bytes gone wrong. Each format's decoder fails in its own way: a JPEG cut within its
markers or a WebP within its first chunk made Pillow fail while opening the file, and
libheif reports a damaged HEIC header as a RuntimeError; each of these had been a 500.
The photos are the sample portrait in each accepted format, damaged at fixed points and
by seeded random bytes, so a failure names a case that can be replayed.
"""

import random

import pytest

from scans.images import InvalidImage, decode
from scans.tests.conftest import encode, face_photo

FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
CUTS = (1, 4, 12, 40, 100, 300, 1000)  # bytes kept, within the header mostly
RANDOM_DAMAGES = 40


def damaged(data: bytes, seed: int) -> bytes:
    """``data`` cut short (one time in three) and with 1-16 bytes overwritten, mostly
    in its first 2,000 bytes, where the headers are."""
    rng = random.Random(seed)
    copy = bytearray(data)
    if rng.random() < 1 / 3:
        copy = copy[: rng.randrange(1, len(copy))]
    for _ in range(rng.choice((1, 4, 16))):
        reach = min(len(copy), 2000) if rng.random() < 0.7 else len(copy)
        copy[rng.randrange(reach)] = rng.randrange(256)
    return bytes(copy)


def outcome(data: bytes) -> str:
    """What ``decode`` made of it: a picture, or the code of the 4xx it raised."""
    try:
        decode(data)
    except InvalidImage as err:
        assert 400 <= err.status_code < 500
        return err.default_code
    return "decoded"


@pytest.mark.parametrize("image_format", FORMATS)
def test_a_photo_cut_short_anywhere_is_refused_as_a_bad_image(image_format):
    # HEIF is written through pillow-heif's Pillow plugin (registered by scans.images).
    data = encode(face_photo(), image_format)
    for kept in (*CUTS, len(data) // 3, len(data) // 2):
        assert outcome(data[:kept]) in {"corrupt_image", "unsupported_image"}, kept


@pytest.mark.parametrize("image_format", FORMATS)
def test_damaged_bytes_give_a_picture_or_a_bad_image_never_an_error(image_format):
    data = encode(face_photo(), image_format)
    outcomes = {seed: outcome(damaged(data, seed)) for seed in range(RANDOM_DAMAGES)}
    # A damaged scan line still decodes (a JPEG shows it as a smear): either is fine.
    assert set(outcomes.values()) <= {
        "decoded",
        "corrupt_image",
        "unsupported_image",
        "image_too_large",
        "image_too_small",
    }, outcomes
