"""One photo examined: image-quality checks, the face and its regions, the per-pixel maps.

    examination = examine_photo(image, area="face")

Shared by the provider (which turns the maps into scores) and the overlays (which draw
them). Measures are taken on a "canvas" of fixed scale: for a face, the face box resized
to FACE_CANVAS_WIDTH_PX wide, cut from the full-resolution photo, so the same face gives
the same canvas whether it was photographed at 1 or 12 megapixels.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from ai.analysis import QUALITY_REASONS
from ai.offline.faces import Box, FaceDetection, FaceLayout, detect_face, face_layout
from ai.offline.images import (
    BLURRY_LAPLACIAN_VARIANCE,
    MIN_SHORT_SIDE_PX,
    WORKING_LONG_SIDE_PX,
    exposure_reasons,
    resize_long_side,
    sharpness,
    to_gray,
)
from ai.offline.pixels import PixelMaps, measure_pixels

FACE_AREA = "face"
FACE_CANVAS_WIDTH_PX = 256
# The canvas is the face box widened by these fractions of its size (left, top, right,
# bottom): room for the chin, which runs below the Haar box, and for the blurs' support.
FACE_CANVAS_MARGINS = (0.30, 0.20, 0.30, 0.35)
# Close-ups of one area (a cheek, the neck) have no face to scale by: the whole frame is
# measured at this long side.
FRAME_CANVAS_LONG_SIDE_PX = 512
# Below these shares of skin there is too little to judge: of the face ellipse when a
# face is found, of the frame for a close-up of another area. A face photo in which no
# face is found is measured only when skin fills most of the frame (a close-up of part
# of the face); otherwise the skin-coloured pixels may be anything (clothes, a wall).
MIN_FACE_SKIN_FRACTION = 0.30
MIN_FRAME_SKIN_FRACTION = 0.12
MIN_FRAME_SKIN_FRACTION_WITHOUT_FACE = 0.50
# Below this short side (photo px) nothing is scored at all: a thumbnail's few pixels
# would give confident-looking numbers about skin they cannot show.
MIN_JUDGEABLE_SIDE_PX = 64


@dataclass(frozen=True)
class Examination:
    reasons: tuple[str, ...]  # QUALITY_REASONS codes, in the contract's order
    short_side_px: int
    mean_luma: float
    sharpness: float
    skin_fraction: float
    face_width_px: float | None  # in the photo's own pixels; None when no face was used
    canvas_box: Box  # the part of the photo measured, in the photo's pixels
    layout: FaceLayout | None  # in canvas pixels; None when the whole frame was measured
    maps: PixelMaps

    @property
    def judgeable(self) -> bool:
        """Whether any score may be given: enough skin, in enough pixels."""
        return "too_little_skin" not in self.reasons and self.short_side_px >= MIN_JUDGEABLE_SIDE_PX


def examine_photo(image: np.ndarray, *, area: str) -> Examination:
    """Check the BGR photo's quality and measure its skin; ``area`` "face" looks for a face."""
    height, width = image.shape[:2]
    gray = to_gray(resize_long_side(image, WORKING_LONG_SIDE_PX))
    mean_luma = float(gray.mean())
    measured_sharpness = sharpness(gray)
    reasons = set(exposure_reasons(mean_luma))
    if measured_sharpness < BLURRY_LAPLACIAN_VARIANCE:
        reasons.add("blurry")
    if min(height, width) < MIN_SHORT_SIDE_PX:
        reasons.add("too_small")

    detection = detect_face(gray) if area == FACE_AREA else None
    if detection is not None:
        in_photo = detection.scaled(width / gray.shape[1])
        box, layout, maps = _measure_face(image, in_photo)
        skin_fraction = float(maps.skin.sum() / max(layout.skin_area.sum(), 1))
        enough_skin = skin_fraction >= MIN_FACE_SKIN_FRACTION
        face_width_px = in_photo.face.w
    else:
        if area == FACE_AREA:
            reasons.add("no_face")
        box, layout = Box(0, 0, width, height), None
        canvas = _cut(image, box, FRAME_CANVAS_LONG_SIDE_PX / max(width, height))
        maps = measure_pixels(canvas, None, None)
        skin_fraction = float(maps.skin.mean())
        enough_skin = skin_fraction >= (
            MIN_FRAME_SKIN_FRACTION_WITHOUT_FACE if area == FACE_AREA else MIN_FRAME_SKIN_FRACTION
        )
        face_width_px = None
    if not enough_skin:
        reasons.add("too_little_skin")
    return Examination(
        reasons=tuple(reason for reason in QUALITY_REASONS if reason in reasons),
        short_side_px=min(height, width),
        mean_luma=mean_luma,
        sharpness=measured_sharpness,
        skin_fraction=skin_fraction,
        face_width_px=face_width_px,
        canvas_box=box,
        layout=layout,
        maps=maps,
    )


def _measure_face(image: np.ndarray, detection: FaceDetection) -> tuple[Box, FaceLayout, PixelMaps]:
    """Cut the face canvas (detection in the photo's pixels) and measure its skin."""
    left, top, right, bottom = FACE_CANVAS_MARGINS
    face = detection.face
    box = _clip(face.part(-left, -top, 1 + right, 1 + bottom), *image.shape[1::-1])
    canvas_scale = FACE_CANVAS_WIDTH_PX / face.w
    canvas = _cut(image, box, canvas_scale)
    layout = face_layout(detection.scaled(canvas_scale, dx=-box.x, dy=-box.y), canvas.shape)
    return box, layout, measure_pixels(canvas, layout.skin_area, layout.core_area)


def _clip(box: Box, width: int, height: int) -> Box:
    left, top = max(0, round(box.x)), max(0, round(box.y))
    right, bottom = min(width, round(box.x + box.w)), min(height, round(box.y + box.h))
    return Box(left, top, max(right - left, 1), max(bottom - top, 1))


def _cut(image: np.ndarray, box: Box, scale: float) -> np.ndarray:
    """The box's pixels resized by ``scale`` (at least 16 px a side)."""
    rows, cols = box.slices(image.shape)
    part = image[rows, cols]
    size = (max(16, round(part.shape[1] * scale)), max(16, round(part.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(part, size, interpolation=interpolation)
