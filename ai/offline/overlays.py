"""Overlays: one measure's per-pixel map drawn over the photo, as a PNG of the photo's size.

    png = render_overlay(image_jpeg, "redness")  # or "shine", "spots"

The map covers only the skin that was measured: the face, or the whole frame when no
face is found.
"""

import cv2
import numpy as np

from ai.offline.examine import Examination, examine_photo
from ai.offline.images import decode_image

OVERLAY_METRICS = ("redness", "shine", "spots")
# Heat maps: how opaque the colour is where the measure is strongest, and on plain skin.
HEAT_MAX_OPACITY = 0.65
HEAT_MIN_OPACITY = 0.15
# a* above the person's baseline (CIELAB units) drawn at full strength.
REDNESS_FULL_SCALE_A = 12.0
SPOT_COLOURS_BGR = {"dark": (0, 200, 255), "red": (255, 0, 255)}
SKIN_TINT_BGR = (120, 200, 0)
SKIN_TINT_OPACITY = 0.12
# Spots are tiny on the canvas; circles get this margin (canvas px) to stay visible.
SPOT_CIRCLE_MARGIN_PX = 3.0
PNG_COMPRESSION_LEVEL = 3  # 0-9: a 12 MP overlay encodes in about a second at 3


def render_overlay(image_jpeg: bytes, metric: str) -> bytes:
    """A PNG of the photo's size with ``metric``'s map over the skin that was measured."""
    if metric not in OVERLAY_METRICS:
        raise ValueError(f"unknown overlay metric {metric!r}; use one of {OVERLAY_METRICS}")
    image = decode_image(image_jpeg)
    examination = examine_photo(image, area="face")
    maps = examination.maps
    if metric == "redness":
        strength = np.clip(maps.red_excess / REDNESS_FULL_SCALE_A, 0.0, 1.0)
        drawn = _heat(image, examination, strength, cv2.COLORMAP_JET)
    elif metric == "shine":
        drawn = _heat(image, examination, maps.specular, cv2.COLORMAP_WINTER)
    else:
        drawn = _spots(image, examination)
    ok, png = cv2.imencode(".png", drawn, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION_LEVEL])
    if not ok:
        raise RuntimeError("OpenCV could not encode the overlay as PNG")
    return png.tobytes()


def _heat(image: np.ndarray, examination: Examination, strength: np.ndarray, colormap: int):
    skin = examination.maps.skin.astype(np.float32)
    colours = cv2.applyColorMap((strength * 255).astype(np.uint8), colormap)
    opacity = skin * (HEAT_MIN_OPACITY + (HEAT_MAX_OPACITY - HEAT_MIN_OPACITY) * strength)
    return _blend(image, examination, colours, opacity)


def _spots(image: np.ndarray, examination: Examination) -> np.ndarray:
    maps = examination.maps
    tint = np.empty((*maps.skin.shape, 3), dtype=np.uint8)
    tint[:] = SKIN_TINT_BGR
    drawn = _blend(image, examination, tint, maps.skin * SKIN_TINT_OPACITY)
    box = examination.canvas_box
    scale = maps.skin.shape[1] / box.w
    thickness = max(2, round(min(image.shape[:2]) / 400))
    for spot in maps.spots():
        centre = (round(box.x + spot.x / scale), round(box.y + spot.y / scale))
        radius = max(3, round((spot.radius + SPOT_CIRCLE_MARGIN_PX) / scale))
        colour = SPOT_COLOURS_BGR[spot.kind]
        cv2.circle(drawn, centre, radius, colour, thickness, lineType=cv2.LINE_AA)
    return drawn


def _blend(
    image: np.ndarray, examination: Examination, colours: np.ndarray, opacity: np.ndarray
) -> np.ndarray:
    """The photo with canvas-sized ``colours`` laid over the measured box at ``opacity``."""
    drawn = image.copy()
    rows, cols = examination.canvas_box.slices(image.shape)
    size = (cols.stop - cols.start, rows.stop - rows.start)
    if size[0] == 0 or size[1] == 0:
        return drawn
    colours = cv2.resize(colours, size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    alpha = cv2.resize(opacity.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    alpha = alpha[..., None]
    part = drawn[rows, cols].astype(np.float32)
    drawn[rows, cols] = np.clip(part * (1 - alpha) + colours * alpha, 0, 255).astype(np.uint8)
    return drawn
