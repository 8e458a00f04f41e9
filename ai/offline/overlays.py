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
# Heat maps: colour opacity where the measure is at full strength (none where it is 0).
HEAT_MAX_OPACITY = 0.7
HEAT_COLORMAPS = {"redness": cv2.COLORMAP_JET, "shine": cv2.COLORMAP_COOL}
# a* above the person's baseline (CIELAB units) drawn at full strength.
REDNESS_FULL_SCALE_A = 12.0
SPOT_COLOURS_BGR = {"dark": (0, 200, 255), "red": (255, 0, 255)}
# The outline of the skin that was measured, so an empty map still says where we looked.
OUTLINE_COLOURS_BGR = {"redness": (60, 60, 230), "shine": (230, 200, 40), "spots": (80, 200, 0)}
# Spots are tiny on the canvas; circles get this margin (canvas px) to stay visible.
SPOT_CIRCLE_MARGIN_PX = 3.0
PNG_COMPRESSION_LEVEL = 3  # 0-9: a 12 MP overlay encodes in about a second at 3


def render_overlay(image_jpeg: bytes, metric: str) -> bytes:
    """A PNG of the photo's size with ``metric``'s map over the skin that was measured."""
    if metric not in OVERLAY_METRICS:
        raise ValueError(f"unknown overlay metric {metric!r}; use one of {OVERLAY_METRICS}")
    image = decode_image(image_jpeg)
    examination = examine_photo(image, area="face")
    if metric == "spots":
        drawn = image.copy()
        _draw_spots(drawn, examination)
    else:
        drawn = _draw_heat(image, examination, metric)
    _draw_outline(drawn, examination, OUTLINE_COLOURS_BGR[metric])
    ok, png = cv2.imencode(".png", drawn, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION_LEVEL])
    if not ok:
        raise RuntimeError("OpenCV could not encode the overlay as PNG")
    return png.tobytes()


def _draw_heat(image: np.ndarray, examination: Examination, metric: str) -> np.ndarray:
    maps = examination.maps
    if metric == "redness":
        strength = np.clip(maps.red_excess / REDNESS_FULL_SCALE_A, 0.0, 1.0)
    else:
        strength = maps.specular
    colours = cv2.applyColorMap((strength * 255).astype(np.uint8), HEAT_COLORMAPS[metric])
    return _blend(image, examination, colours, maps.skin * strength * HEAT_MAX_OPACITY)


def _line_thickness(image: np.ndarray) -> int:
    return max(1, round(min(image.shape[:2]) / 500))


def _to_photo(examination: Examination) -> tuple[float, float, float]:
    """(x offset, y offset, canvas px per photo px) to map canvas points onto the photo."""
    box = examination.canvas_box
    return box.x, box.y, examination.maps.skin.shape[1] / box.w


def _draw_spots(drawn: np.ndarray, examination: Examination) -> None:
    left, top, scale = _to_photo(examination)
    for spot in examination.maps.spots():
        centre = (round(left + spot.x / scale), round(top + spot.y / scale))
        radius = max(3, round((spot.radius + SPOT_CIRCLE_MARGIN_PX) / scale))
        colour = SPOT_COLOURS_BGR[spot.kind]
        cv2.circle(drawn, centre, radius, colour, _line_thickness(drawn), lineType=cv2.LINE_AA)


def _draw_outline(drawn: np.ndarray, examination: Examination, colour: tuple[int, int, int]):
    left, top, scale = _to_photo(examination)
    skin = examination.maps.skin.astype(np.uint8)
    contours, _ = cv2.findContours(skin, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    on_photo = [
        np.round(contour.astype(np.float32) / scale + (left, top)).astype(np.int32)
        for contour in contours
    ]
    cv2.polylines(drawn, on_photo, True, colour, _line_thickness(drawn), lineType=cv2.LINE_AA)


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
