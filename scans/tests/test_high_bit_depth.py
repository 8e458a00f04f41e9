"""Photos of more than 8 bits a channel (16-bit grey PNGs, with or without alpha; 48- and
64-bit colour ones) are stored and analysed like their 8-bit versions: real photographs
and controlled edits of them, each written at both depths from the same pixels."""

import io

import numpy as np
import pytest
from PIL import Image

from ai.analysis import SkinAnalysis
from ai.offline import OfflineProvider
from ai.providers import SkinProfile
from scans.images import in_eight_bits, prepare_photo
from tests import photos

UPLOAD_SHORT_SIDE_PX = 600
# What a stored 16-bit photo may differ from the 8-bit one by: a level of rounding, then
# the JPEG's own; a measure, a point or two.
MAX_MEAN_LEVEL_DIFFERENCE = 1.0
MAX_SCORE_DIFFERENCE = 2.0
WHITE = 254.5


def astronaut_grey(factor: float) -> np.ndarray:
    return photos.astronaut().astype(np.float64).mean(axis=2) * factor


PHOTOS = {
    "portrait": lambda: photos.astronaut().astype(np.float64),
    "portrait darker": lambda: photos.astronaut() * 0.75,
    # 10 % brighter: 20 % brighter clips most of the face's skin white (too_bright).
    "portrait brighter": lambda: np.clip(photos.astronaut() * 1.1, 0, 255),
    "grey portrait": lambda: astronaut_grey(1.0),
    "grey portrait darker": lambda: astronaut_grey(0.7),
    "cameraman": lambda: photos.non_face("camera")[..., 0].astype(np.float64),
}
# How each photo's channels are laid out in the PNG: the photo itself (grey or colour),
# or with an opaque alpha channel.
LAYOUTS = ("as is", "with alpha")


def both_depths(name: str, layout: str) -> tuple[bytes, bytes]:
    """The photo as an 8-bit and as a 16-bit PNG, both quantised from the same pixels."""
    levels = np.clip(photos.at_least(PHOTOS[name](), UPLOAD_SHORT_SIDE_PX), 0, 255)
    if layout == "with alpha":
        levels = np.dstack([levels, np.full(levels.shape[:2], 255.0)])
    eight = np.round(levels).astype(np.uint8)
    sixteen = np.round(levels * 257).astype(np.uint16)
    return photos.png(eight), photos.png(sixteen)


def stored_pixels(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.float64)


def analyse(jpeg: bytes) -> SkinAnalysis:
    return OfflineProvider().analyze_skin(image_jpeg=jpeg, area="face", profile=SkinProfile())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", PHOTOS)
def test_a_16_bit_photo_is_stored_as_its_8_bit_version(name, layout):
    eight, sixteen = (prepare_photo(png) for png in both_depths(name, layout))
    deep, shallow = stored_pixels(sixteen.jpeg), stored_pixels(eight.jpeg)
    assert np.abs(deep - shallow).mean() <= MAX_MEAN_LEVEL_DIFFERENCE
    # No more white than the photo has: 16 bits are scaled down, not clipped.
    assert (deep >= WHITE).mean() <= (shallow >= WHITE).mean() + 0.01


@pytest.mark.parametrize(
    "name", ["portrait", "portrait darker", "portrait brighter", "grey portrait", "cameraman"]
)
def test_a_16_bit_photo_is_analysed_as_its_8_bit_version(name):
    eight, sixteen = (analyse(prepare_photo(png).jpeg) for png in both_depths(name, "as is"))
    assert "too_bright" not in sixteen.image_quality.reasons
    assert sixteen.image_quality == eight.image_quality
    for metric, measured in eight.metrics.items():
        deep = sixteen.metrics[metric].score
        if measured.score is None:
            assert deep is None, metric
        else:
            assert deep == pytest.approx(measured.score, abs=MAX_SCORE_DIFFERENCE), metric


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L", "I"])
@pytest.mark.parametrize("name", ["grey portrait", "grey portrait darker", "cameraman"])
def test_every_16_bit_grey_mode_is_scaled_not_clipped(name, mode):
    levels = np.round(np.clip(PHOTOS[name](), 0, 255))
    sixteen = (levels * 257).astype(np.uint32)
    if mode == "I":
        picture = Image.fromarray(sixteen.astype(np.int32))
    else:
        dtype = {"I;16": "<u2", "I;16L": "<u2", "I;16B": ">u2"}[mode]
        size = (levels.shape[1], levels.shape[0])
        picture = Image.frombytes(mode, size, sixteen.astype(dtype).tobytes())
    assert picture.mode == mode
    scaled = np.asarray(in_eight_bits(picture).convert("RGB"), dtype=np.float64)
    assert np.abs(scaled - levels[..., None]).max() == 0
