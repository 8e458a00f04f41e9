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
# Mean luminance (0-255, Rec. 601 grey) of a close-up's frame, and of the frame of a face
# scan in which no face was found. A face's own light is judged on its skin
# (``face_exposure_reasons``: too bright over TOO_BRIGHT_MEAN_LUMA, too dark as below), so
# a white wall or a black backdrop behind a well-lit face is no reason.
TOO_DARK_MEAN_LUMA = 50.0
TOO_BRIGHT_MEAN_LUMA = 215.0
# Skin alone cannot tell a dim photo from dark skin: a fair face at 30 % of its light and
# a very dark one well lit both measure 41-57. So a face is too dark when its skin
# measures under FACE_TOO_DARK_LUMA whatever the frame (a face against a bright window),
# or under DIM_FACE_LUMA in a frame that is itself too dark, which alone used to be
# enough: a face lit by a screen in a dark room is no longer refused. Nor is dark skin
# before a dark backdrop when the face's brightest part (its 99th percentile, eyes,
# teeth and highlights included) reaches LIT_FACE_BRIGHTEST_LUMA: the portraits'
# darkened skin, well lit, keeps eyes and highlights at 203-209, while the fair faces at
# half their light reach 106-115 and at 30 %, 63-69. A face that shows no whites of its
# eyes (Grace Hopper's, behind amber glasses) has only its skin to go by: darkened to
# 0.45 of its L* it reaches 89, and before a dark backdrop it is still called too dark.
FACE_TOO_DARK_LUMA = 35.0
DIM_FACE_LUMA = 80.0
LIT_FACE_BRIGHTEST_LUMA = 120.0
# Variance of the Laplacian at BLUR_CHECK_LONG_SIDE_PX below which a close-up is blurry.
# Sharp phone portraits measure in the hundreds; a Gaussian blur of sigma 2 px at that
# scale brings them under 30.
BLURRY_LAPLACIAN_VARIANCE = 60.0
# A face's focus is judged on the face alone (a phone's portrait mode blurs everything
# else; a sharp room behind a blurred face hid the blur), on the face cut at this width,
# or at its own if smaller: ``edge_sharpness``. Sharp photos of the two sample portraits
# (resized, JPEG quality 30-95, grainy, dimmed, darker skin, before a wall or a blurred
# backdrop) measure 0.23-0.84 at this width, and enlarged copies of them (which hold no
# more detail than the original: the test photos, a phone's digital zoom) 0.12-0.26. A
# Gaussian blur of sigma 1.5 px at this scale brings the portraits to 0.05-0.07, a
# motion blur of 6 px across to 0.03-0.07; a blur of sigma 1 px (0.09-0.13) is called
# blurry on one portrait and not the other: mild at this scale, it is a face 1,000 px
# wide blurred by 10 px.
FACE_FOCUS_WIDTH_PX = 96
BLURRY_FACE_EDGE_RATIO = 0.10
# Grain: the noise of a dim room's sensor, or a screen's pixel grid photographed, in
# grey levels (0-255) at the scale a face canvas reads it (noise averages down when a
# canvas shrinks the photo, and stays when it enlarges it). Sharp photos of the sample
# portrait, JPEG quality 60-95, shifted, turned or tilted, measure 0.5-3.2; Gaussian
# noise of sigma 8 measures 8 and already took 7 points off texture and 5 off
# pigmentation; sigma 20 took 55 off pigmentation, and a screen's pixel grid measured 17
# and scored texture and pigmentation 0.
MAX_GRAIN_GREY_LEVELS = 5.0
# Immerkaer's kernel (two second differences, orthogonal to any plane): the residue of
# smooth shading is 0, of noise of sigma s a normal of sigma 6 s; 0.6745: the median of
# |N(0, 1)|. The median, not the mean: the edges of eyes, brows and hair are a minority
# of the face's pixels.
GRAIN_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
GRAIN_KERNEL_GAIN = 6.0
MEDIAN_ABS_NORMAL = 0.6745
# JPEG codes 8x8 blocks; compressed hard (a messenger's "data saver", a screenshot of a
# screenshot) each block is flattened and steps appear at the grid. Blockiness is the
# mean step across the grid's lines over the mean step elsewhere (steps clipped at
# BLOCK_STEP_CLIP grey levels, so one straight edge along a grid line counts as little
# as any other). On the sample portrait: 1.0-1.2 at quality 60-95, 1.5 at 10, 1.7 at 5;
# on the portrait enlarged so its face is 1,100 px wide (smooth skin shows blocks more),
# 2.6 at quality 15, where acne lost 8 points and pores 36; at 8, redness lost 79.
JPEG_BLOCK_PX = 8
BLOCK_STEP_CLIP = 8.0
MAX_BLOCKINESS = 1.6
# A screen photographed: its pixel grid is periodic, so its fine detail gathers in a few
# sharp peaks of the spectrum, where a face's is spread over every frequency. Grain
# alone misses it once a phone's photo is decoded at half or a quarter of its size: a
# grid of pitch 3 px in a 2,048 px photo aliases there into a faint pattern of 2 grey
# levels (under MAX_GRAIN_GREY_LEVELS) that still scored texture 2 and pigmentation 18.
# Periodicity is the highest peak of the windowed spectrum of the fine detail (above
# PERIODIC_MIN_FREQUENCY cycles per pixel, on the centred square of at most
# PERIODIC_WINDOW_PX) over the median there. Portraits (the astronaut and Grace Hopper,
# 512-4000 px, sharpened or not, JPEG quality 60-95) measure 8-111; screens of pitch
# 2.5-5 px, 1,500-4,000 px, turned 0-2.5 degrees, 206-3,074 wherever the grid survives
# the decode. Where it does not (pitch 2 at half size, 2 or 4 at a quarter: the
# decoder averages every pitch exactly away) the decoded face is the portrait's and its
# measures match the unscreened photo's within a point.
PERIODIC_WINDOW_PX = 256
PERIODIC_MIN_WINDOW_PX = 32
PERIODIC_MIN_FREQUENCY = 0.12
PERIODIC_DETAIL_SIGMA_PX = 2.0
MAX_PERIODICITY = 150.0


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


def edge_sharpness(gray: np.ndarray, where: np.ndarray) -> float:
    """How sharp the edges ``where`` (a bool mask) are, whatever their contrast: along the
    blurrier of the two axes, the mean square of the second derivative over that of the
    first. A blur takes far more of the second than of the first, while light and skin
    tone scale both alike; a motion blur softens one direction only."""
    inside = cv2.erode(where.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if not inside.any():
        return float("inf")  # nothing to judge the focus on
    pixels = gray.astype(np.float32)
    ratios = []
    for dx, dy in ((1, 0), (0, 1)):
        first = cv2.Sobel(pixels, cv2.CV_32F, dx, dy)[inside]
        second = cv2.Sobel(pixels, cv2.CV_32F, 2 * dx, 2 * dy)[inside]
        ratios.append(float(np.mean(second**2)) / max(float(np.mean(first**2)), 1e-6))
    return min(ratios)


def grain(gray: np.ndarray) -> float:
    """The noise's standard deviation in grey levels (Immerkaer's estimate, median form)."""
    if min(gray.shape[:2]) < 3:
        return 0.0
    residue = cv2.filter2D(gray.astype(np.float32), -1, GRAIN_KERNEL)[1:-1, 1:-1]
    return float(np.median(np.abs(residue))) / MEDIAN_ABS_NORMAL / GRAIN_KERNEL_GAIN


def blockiness(gray: np.ndarray, block_px: int) -> float:
    """The steps across a grid of ``block_px`` over the steps elsewhere, averaged over
    rows and columns (about 1 without blocks). The grid's offset is not assumed: the
    phase with the largest steps is the grid's. Under 2 px a block cannot be told."""
    if block_px < 2 or min(gray.shape[:2]) < 2 * block_px:
        return 1.0
    ratios = []
    for axis in (0, 1):
        steps = np.minimum(np.abs(np.diff(gray.astype(np.float32), axis=axis)), BLOCK_STEP_CLIP)
        profile = steps.mean(axis=1 - axis)
        phases = np.array([profile[phase::block_px].mean() for phase in range(block_px)])
        grid = int(np.argmax(phases))
        elsewhere = float(np.delete(phases, grid).mean())
        ratios.append(float(phases[grid]) / max(elsewhere, 1e-3))
    return float(np.mean(ratios))


def periodicity(gray: np.ndarray) -> float:
    """How much of the fine detail one spectral peak holds: its height over the median
    of the high frequencies (a face: under about 110; a screen's pixel grid: hundreds)."""
    side = min(min(gray.shape[:2]), PERIODIC_WINDOW_PX)
    if side < PERIODIC_MIN_WINDOW_PX:
        return 0.0
    top, left = (gray.shape[0] - side) // 2, (gray.shape[1] - side) // 2
    square = gray[top : top + side, left : left + side].astype(np.float32)
    detail = square - cv2.GaussianBlur(square, (0, 0), PERIODIC_DETAIL_SIGMA_PX)
    window = np.hanning(side).astype(np.float32)
    spectrum = np.abs(np.fft.rfft2(detail * np.outer(window, window)))
    frequency = np.hypot(np.fft.rfftfreq(side)[None, :], np.fft.fftfreq(side)[:, None])
    high = spectrum[frequency > PERIODIC_MIN_FREQUENCY]
    return float(high.max() / max(float(np.median(high)), 1e-6))


def exposure_reasons(mean_luma: float) -> tuple[str, ...]:
    if mean_luma < TOO_DARK_MEAN_LUMA:
        return ("too_dark",)
    if mean_luma > TOO_BRIGHT_MEAN_LUMA:
        return ("too_bright",)
    return ()


def face_exposure_reasons(
    skin_luma: float, brightest_luma: float, frame_luma: float
) -> tuple[str, ...]:
    """``exposure_reasons`` of a face: its skin's mean grey, its brightest part's (the
    99th percentile of the face, eyes included), and the frame's mean grey."""
    dim_in_the_dark = (
        frame_luma < TOO_DARK_MEAN_LUMA
        and skin_luma < DIM_FACE_LUMA
        and brightest_luma < LIT_FACE_BRIGHTEST_LUMA
    )
    if skin_luma < FACE_TOO_DARK_LUMA or dim_in_the_dark:
        return ("too_dark",)
    if skin_luma > TOO_BRIGHT_MEAN_LUMA:
        return ("too_bright",)
    return ()
