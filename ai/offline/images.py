"""Decoding an uploaded photo and the image-quality checks (light, focus, size).

    image = decode_image(image_jpeg)  # BGR uint8, or AnalysisFailed("unreadable_image")
    half = decode_image(image_jpeg, reduction=2)  # half the width and height, decoded faster
    working = resize_long_side(image, WORKING_LONG_SIDE_PX)

The checks give the contract's QUALITY_REASONS codes; the thresholds are below.
"""

import io

import cv2
import numpy as np
from PIL import Image

from ai.providers import AnalysisFailed

# Everything but the face crop is measured on a copy no longer than this, so a
# 12-megapixel photo costs about as much as a 1-megapixel one.
WORKING_LONG_SIDE_PX = 1024
# Sharpness depends on the pixel scale, so it is measured after resizing every photo to
# the same long side; an upscaled photo is then not "blurrier" than its original.
BLUR_CHECK_LONG_SIDE_PX = 512
MIN_SHORT_SIDE_PX = 480
# Mean luminance (0-255, Rec. 601 grey) of the analysed part of the photo.
TOO_DARK_MEAN_LUMA = 50.0
TOO_BRIGHT_MEAN_LUMA = 215.0
# Variance of the Laplacian at BLUR_CHECK_LONG_SIDE_PX below which the photo is blurry.
# Sharp phone portraits measure in the hundreds; a Gaussian blur of sigma 2 px at that
# scale brings them under 30.
BLURRY_LAPLACIAN_VARIANCE = 60.0


# OpenCV's flags for decoding at 1/1, 1/2, 1/4 or 1/8 of the size: libjpeg scales
# while it decodes (in the DCT), which is several times faster than decoding the full
# photo and resizing it.
REDUCED_DECODE_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def photo_size(image_jpeg: bytes) -> tuple[int, int]:
    """(width, height) from the file's header alone, or AnalysisFailed("unreadable_image")."""
    try:
        with Image.open(io.BytesIO(image_jpeg)) as picture:
            return picture.size
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise AnalysisFailed("unreadable_image", "the image could not be decoded") from err


def reduction_for(long_side_px: int, min_long_side_px: int) -> int:
    """The largest decode reduction (1, 2, 4 or 8) keeping at least ``min_long_side_px``."""
    return max(
        (r for r in REDUCED_DECODE_FLAGS if long_side_px // r >= min_long_side_px), default=1
    )


def decode_image(image_jpeg: bytes, *, reduction: int = 1) -> np.ndarray:
    """Decode the photo to a BGR ``uint8`` array (EXIF orientation applied by OpenCV),
    ``reduction`` times smaller on each side."""
    if not image_jpeg:
        raise AnalysisFailed("unreadable_image", "the image is empty")
    try:
        image = cv2.imdecode(
            np.frombuffer(image_jpeg, dtype=np.uint8), REDUCED_DECODE_FLAGS[reduction]
        )
    except cv2.error as err:
        raise AnalysisFailed("unreadable_image", "the image could not be decoded") from err
    if image is None or image.size == 0:
        raise AnalysisFailed("unreadable_image", "the image could not be decoded")
    return image


def resize_long_side(image: np.ndarray, long_side_px: int, *, upscale: bool = False) -> np.ndarray:
    """Resize keeping the aspect ratio; only ever shrinks unless ``upscale``."""
    height, width = image.shape[:2]
    factor = long_side_px / max(height, width)
    if factor == 1 or (factor > 1 and not upscale):
        return image
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    # INTER_AREA averages the pixels it drops (no aliasing); it is not meant for enlarging.
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interpolation)


def to_gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian of the photo resized to BLUR_CHECK_LONG_SIDE_PX."""
    normalised = resize_long_side(gray, BLUR_CHECK_LONG_SIDE_PX, upscale=True)
    return float(cv2.Laplacian(normalised, cv2.CV_32F).var())


def exposure_reasons(mean_luma: float) -> tuple[str, ...]:
    if mean_luma < TOO_DARK_MEAN_LUMA:
        return ("too_dark",)
    if mean_luma > TOO_BRIGHT_MEAN_LUMA:
        return ("too_bright",)
    return ()
