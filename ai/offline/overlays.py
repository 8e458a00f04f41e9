"""Overlays: one measure's per-pixel map drawn over the photo along the face's landmark
regions, as a PNG of the photo's size (what skin-analysis APIs call concern masks).

    png = render_overlay(image_jpeg, "redness")  # see OVERLAY_METRICS

Each map covers only the skin that was measured for it, and the regions it was read in
are outlined, so an empty map still says where we looked. A face scan without a face
has nothing drawn on it.
"""

import cv2
import numpy as np

from ai.analysis import FACE_COVERED, NOT_A_PHOTO, ONE_HUE
from ai.offline.detail import PORE_REGIONS, WRINKLE_REGIONS
from ai.offline.examine import Canvas, Examination, examine_photo
from ai.offline.images import decode_image
from ai.offline.regions import CHEEKS, MAIN_REGIONS, UNDER_EYES

OVERLAY_METRICS = ("redness", "shine", "spots", "wrinkles", "pores", "dark_circles")
# The regions each overlay outlines.
OVERLAY_REGIONS = {
    "redness": MAIN_REGIONS,
    "shine": MAIN_REGIONS,
    "spots": MAIN_REGIONS,
    "wrinkles": WRINKLE_REGIONS,
    "pores": PORE_REGIONS,
    "dark_circles": UNDER_EYES,
}
# Heat maps: colour opacity where the measure is at full strength (none where it is 0).
HEAT_MAX_OPACITY = 0.7
HEAT_COLORMAPS = {
    "redness": cv2.COLORMAP_JET,
    "shine": cv2.COLORMAP_COOL,
    "wrinkles": cv2.COLORMAP_AUTUMN,
    "pores": cv2.COLORMAP_SPRING,
    "dark_circles": cv2.COLORMAP_OCEAN,
}
# a* above the person's baseline (CIELAB units) drawn at full strength.
REDNESS_FULL_SCALE_A = 12.0
# Under-eye skin this much darker than the cheeks (L*) drawn at full strength.
DARK_CIRCLE_FULL_SCALE_L = 12.0
SPOT_COLOURS_BGR = {"dark": (0, 200, 255), "red": (255, 0, 255)}
OUTLINE_COLOURS_BGR = {
    "redness": (60, 60, 230),
    "shine": (230, 200, 40),
    "spots": (80, 200, 0),
    "wrinkles": (0, 140, 255),
    "pores": (200, 80, 255),
    "dark_circles": (255, 120, 60),
}
# Spots are tiny on the canvas; circles get this margin (canvas px) to stay visible.
SPOT_CIRCLE_MARGIN_PX = 3.0
PNG_COMPRESSION_LEVEL = 3  # 0-9: a 12 MP overlay encodes in about a second at 3


def render_overlay(image_jpeg: bytes, metric: str) -> bytes:
    """A PNG of the photo's size with ``metric``'s map over the skin that was measured."""
    if metric not in OVERLAY_METRICS:
        raise ValueError(f"unknown overlay metric {metric!r}; use one of {OVERLAY_METRICS}")
    image = decode_image(image_jpeg)
    examination = examine_photo(image_jpeg, area="face")
    drawn = image.copy()
    # Over a mask or a drawing nothing was measured: its cloth or paint would be drawn as
    # the skin's redness.
    measured = not {FACE_COVERED, NOT_A_PHOTO, ONE_HUE} & set(examination.reasons)
    if measured and examination.maps is not None and examination.canvas is not None:
        if metric == "spots":
            _draw_spots(drawn, examination)
        else:
            drawn = _draw_heat(drawn, examination, metric)
        _draw_outlines(drawn, examination, metric)
    ok, png = cv2.imencode(".png", drawn, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION_LEVEL])
    if not ok:
        raise RuntimeError("OpenCV could not encode the overlay as PNG")
    return png.tobytes()


def _draw_heat(image: np.ndarray, examination: Examination, metric: str) -> np.ndarray:
    maps, canvas = examination.maps, examination.canvas
    if maps is None or canvas is None:
        raise AssertionError("unreachable: render_overlay draws on measured photos only")
    skin = maps.skin
    if metric in ("wrinkles", "pores"):
        detail = examination.detail
        if detail is None:
            return image
        if examination.detail_canvas is None:
            raise AssertionError("unreachable: the detail maps come with their face canvas")
        canvas, skin = examination.detail_canvas, detail.measured
        strength = detail.line if metric == "wrinkles" else detail.pore
    elif metric == "redness":
        strength = np.clip(maps.red_excess / REDNESS_FULL_SCALE_A, 0.0, 1.0)
    elif metric == "shine":
        strength = maps.specular
    else:
        layout = canvas.layout
        if layout is None:
            return image
        cheeks = maps.lightness_median(layout.union(CHEEKS)) or float(np.median(maps.lightness))
        strength = np.clip((cheeks - maps.lightness) / DARK_CIRCLE_FULL_SCALE_L, 0.0, 1.0)
        skin = skin & layout.union(UNDER_EYES)
    colours = cv2.applyColorMap((strength * 255).astype(np.uint8), HEAT_COLORMAPS[metric])
    return _blend(image, canvas, colours, skin * strength * HEAT_MAX_OPACITY)


def _line_thickness(image: np.ndarray) -> int:
    short_side: int = min(image.shape[:2])
    return max(1, round(short_side / 500))


def _draw_spots(drawn: np.ndarray, examination: Examination) -> None:
    canvas, maps = examination.canvas, examination.maps
    if canvas is None or maps is None:
        raise AssertionError("unreachable: render_overlay draws on measured photos only")
    for spot in maps.spots():
        centre = (
            round(canvas.box.x + spot.x / canvas.scale),
            round(canvas.box.y + spot.y / canvas.scale),
        )
        radius = max(3, round((spot.radius + SPOT_CIRCLE_MARGIN_PX) / canvas.scale))
        colour = SPOT_COLOURS_BGR[spot.kind]
        cv2.circle(drawn, centre, radius, colour, _line_thickness(drawn), lineType=cv2.LINE_AA)


def _draw_outlines(drawn: np.ndarray, examination: Examination, metric: str) -> None:
    """The regions the metric was read in (the skin's outline on a close-up)."""
    canvas, maps = examination.canvas, examination.maps
    if canvas is None or maps is None:
        raise AssertionError("unreachable: render_overlay draws on measured photos only")
    colour = OUTLINE_COLOURS_BGR[metric]
    polygons: list[np.ndarray]
    if canvas.layout is None:
        skin = maps.skin.astype(np.uint8)
        contours, _ = cv2.findContours(skin, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        polygons = [contour.reshape(-1, 2).astype(np.float32) for contour in contours]
    else:
        polygons = [canvas.layout.outlines[name] for name in OVERLAY_REGIONS[metric]]
    on_photo = [
        np.round(polygon / canvas.scale + (canvas.box.x, canvas.box.y)).astype(np.int32)
        for polygon in polygons
    ]
    cv2.polylines(drawn, on_photo, True, colour, _line_thickness(drawn), lineType=cv2.LINE_AA)


def _blend(
    image: np.ndarray, canvas: Canvas, colours: np.ndarray, opacity: np.ndarray
) -> np.ndarray:
    """The photo with canvas-sized ``colours`` laid over the canvas' box at ``opacity``."""
    drawn = image.copy()
    rows, cols = canvas.box.slices(image.shape)
    size = (cols.stop - cols.start, rows.stop - rows.start)
    if size[0] == 0 or size[1] == 0:
        return drawn
    colours = cv2.resize(colours, size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    alpha = cv2.resize(opacity.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    alpha = alpha[..., None]
    part = drawn[rows, cols].astype(np.float32)
    drawn[rows, cols] = np.clip(part * (1 - alpha) + colours * alpha, 0, 255).astype(np.uint8)
    return drawn
