"""From measured pixels to the contract's answer: 0-100 scores, confidences, regions,
concerns, skin type and summary.

    answer = score_examination(examination)   # a dict for SkinAnalysis.from_dict

Every score is a logistic function of one raw measure, fixed by two anchors: the
measure's value that scores 90 and the value that scores 30. It is smooth and strictly
monotone, so a small change in the photo moves a score a little and never across a step.
The anchors were set by eye on the public-domain sample portrait and on copies of it
made redder, shinier, spotted or noisier (and checked for repeatability with
``bench/repeatability.py``); they are heuristics, not clinical thresholds.
"""

import math
from dataclasses import dataclass
from typing import Any, cast

import cv2
import numpy as np

from ai.analysis import (
    COLOUR_CAST,
    COLOUR_METRICS,
    FACE_COVERED,
    NOT_A_PHOTO,
    ONE_HUE,
    SUMMARY_MAX_LENGTH,
    UNEVEN_LIGHT,
    UNEVEN_LIGHT_METRICS,
    withheld_for,
)
from ai.offline.detail import PORE_REGIONS, WRINKLE_REGIONS
from ai.offline.examine import FACE_CANVAS_WIDTH_PX, MIN_DETAIL_FACE_WIDTH_PX, Examination
from ai.offline.pixels import (
    MIN_TEXTURE_SIGMA_PHOTO_PX,
    TEXTURE_SIGMA_PX,
    Measures,
    PixelMaps,
    to_reference,
)
from ai.offline.regions import CHEEKS, MAIN_REGIONS, UNDER_EYES
from skincare.metrics import METRICS, band_for


@dataclass(frozen=True)
class Anchors:
    good: float  # the raw measure that scores 90
    bad: float  # the raw measure that scores 30


def falling_score(value: float, anchors: Anchors) -> float:
    """0-100, higher is healthier: 90 at ``anchors.good``, 30 at ``anchors.bad``."""
    steepness = (math.log(9.0) + math.log(7.0 / 3.0)) / (anchors.bad - anchors.good)
    middle = anchors.good + math.log(9.0) / steepness
    exponent = min(max(steepness * (value - middle), -60.0), 60.0)
    return 100.0 / (1.0 + math.exp(exponent))


# Redness: how far the skin's CIELAB hue angle sits below a typical skin hue (redder
# skin has a lower hue angle), half-weighted because healthy skin of different tones
# spans roughly 40-70 degrees, plus the share of pixels well above the person's own a*
# baseline (red patches).
REDNESS_NEUTRAL_HUE_DEG = 60.0
REDNESS_HUE_WEIGHT = 0.5
REDNESS_PATCH_WEIGHT = 1.0
# Pigmentation: mid-scale L*/b* spread plus the share of dark-spot pixels.
DARK_SPOT_WEIGHT = 3.0
SCORE_ANCHORS = {
    "redness": Anchors(good=2.0, bad=16.0),  # weighted hue deficit (deg) + patch %
    "oiliness": Anchors(good=2.0, bad=15.0),  # specular highlight % of skin
    "pigmentation": Anchors(good=5.0, bad=15.0),  # CIELAB spread + weighted spot %
    "texture": Anchors(good=0.8, bad=2.5),  # mean fine-scale contrast, % of lightness
    "acne": Anchors(good=0.3, bad=3.0),  # red-blob % of skin
    "dark_circles": Anchors(good=2.0, bad=10.0),  # calm cheek L* minus under-eye L* (at L* 70)
    "eye_bags": Anchors(good=10.0, bad=25.0),  # cheek L* minus the tear trough's (at L* 70)
    "wrinkles": Anchors(good=20.0, bad=60.0),  # line density % + weighted line depth
    "pores": Anchors(good=1.5, bad=8.0),  # % of nose and cheek skin in pores
    "radiance": Anchors(good=4.0, bad=16.0),  # dullness: uneven, flat or greasy
}
# Wrinkles: a line's mean depth (% of the local lightness) counts this much beside the
# share of the skin on lines.
WRINKLE_DEPTH_WEIGHT = 2.0
# Radiance is the opposite of dullness: uneven tone, and specular light away from a soft
# glow of RADIANT_SHINE_PCT (none is flat, much more is grease). Lighting moves it more
# than any other measure: its confidence says so. How light the skin is does not count:
# it is the person's own tone as much as the light, and read as dullness below L* 65 it
# scored the astronaut's radiance 90, 87, 67, 46 and 28 with her skin at 1.0, 0.8, 0.6,
# 0.45 and 0.35 of its L* (the same skin, darker: her overall score 92 to 80), and a
# third of the light took 24 points off.
RADIANCE_UNEVENNESS_WEIGHT = 1.0
RADIANT_SHINE_PCT = 3.0
RADIANCE_SHINE_WEIGHT = 0.5
# What a photo cannot show honestly; these stay None whatever the pixels.
UNJUDGED_METRICS = {
    "hydration": "water content does not show in colour or shine",
    "firmness": "firmness is a mechanical property",
}
# Fine detail needs pixels: lines and pores are measured from this face width (photo
# px); confidence grows until FULL_DETAIL_CONFIDENCE_WIDTH_PX.
MIN_WRINKLE_FACE_WIDTH_PX = float(MIN_DETAIL_FACE_WIDTH_PX)
MIN_PORE_FACE_WIDTH_PX = float(MIN_DETAIL_FACE_WIDTH_PX)
FULL_DETAIL_CONFIDENCE_WIDTH_PX = {"wrinkles": 1500.0, "pores": 2000.0}
DETAIL_MIN_CONFIDENCE_SHARE = 0.5
# Texture is measured from this face width (photo px): narrower, the canvas enlarges the
# face so far that the texture band lies under the photo's own pixel (320 px: see
# pixels.MIN_TEXTURE_SIGMA_PHOTO_PX).
MIN_TEXTURE_FACE_WIDTH_PX = FACE_CANVAS_WIDTH_PX * MIN_TEXTURE_SIGMA_PHOTO_PX / TEXTURE_SIGMA_PX[0]
# Metrics that need open, visible eyes (the lids and the skin under them).
EYE_METRICS = ("dark_circles", "eye_bags")
REGION_METRICS = ("redness", "oiliness", "pigmentation", "texture", "acne")
# How far each measure can be trusted at best; multiplied down by the photo's faults.
BASE_CONFIDENCE = {
    "redness": 0.6,
    "oiliness": 0.5,
    "pigmentation": 0.45,
    "texture": 0.4,
    "acne": 0.45,
    "dark_circles": 0.4,
    "eye_bags": 0.3,
    "wrinkles": 0.45,
    "pores": 0.4,
    "radiance": 0.3,
}
FINE_DETAIL_METRICS = ("texture", "acne", "pigmentation", "wrinkles", "pores")
# Face width (px in the photo) from which detail is fully resolved, and the floor factor.
FULL_DETAIL_FACE_WIDTH_PX = 320.0
SMALL_FACE_WIDTH_PX = 80.0
SMALL_FACE_CONFIDENCE = 0.4
REASON_CONFIDENCE = {
    "too_dark": 0.5,
    "too_bright": 0.5,
    "too_small": 0.7,
    "no_face": 0.5,
    "face_turned": 0.5,
    "face_cropped": 0.5,
    "noisy": 0.4,
    "compressed": 0.5,
}
BLURRY_CONFIDENCE = {"fine": 0.4, "other": 0.8}
# A concern is raised at this score or below ("good" starts above 70).
CONCERN_MAX_SCORE = 70.0
CONCERN_MIN_CONFIDENCE = 0.15
CONCERN_NAMES = {
    "redness": "redness",
    "oiliness": "excess shine",
    "pigmentation": "uneven tone or dark spots",
    "texture": "uneven texture",
    "acne": "blemishes",
    "dark_circles": "dark circles",
    "eye_bags": "under-eye bags",
    "wrinkles": "fine lines and wrinkles",
    "pores": "visible pores",
    "radiance": "dull skin",
}
# Skin type from shine (specular % of skin) in the T-zone and on the cheeks. Shine moves
# with the exposure (a brighter photo of the same face shines more), so only clear cases
# get a type: at least OILY_SHINE_PCT is shiny (an oiliness score near 60), under
# MATTE_SHINE_PCT is matte; anything between says nothing.
OILY_SHINE_PCT = 8.0
MATTE_SHINE_PCT = 1.0
OILY_CHEEK_SHARE = 0.6  # oily all over: cheeks at least this share of the T-zone's shine
DRY_MAX_TEXTURE_SCORE = 50.0
SKIN_TYPE_MIN_FACE_WIDTH_PX = 150.0

DISCLAIMER = "Offline heuristic estimate from the photo's pixels, not a diagnosis."
NOT_JUDGEABLE_NOTE = "Too little skin was visible to judge; retake the photo closer, in daylight."
# Skin is found by its colour: in a photo whose colour is a lamp's, too little skin is
# the colour's doing, and closer would not help.
NO_SKIN_COLOUR_NOTE = (
    "The skin could not be told by its colour, which is a lamp's or a filter's, so "
    "nothing was scored: retake it in daylight, without a filter."
)
ONE_HUE_NOTE = (
    "The photo is all in one hue (a black-and-white, sepia or toned filter, or something "
    "that is not skin, such as a statue), so nothing was scored: take a photo of your own "
    "face in daylight, without a filter."
)
# A face under about a twentieth of the frame's width is not found on the analysis's
# working copy (1,024 px), so the retake says how near, not only which way.
NO_FACE_NOTE = (
    "No face was found, so nothing was scored: retake it facing the camera, close enough "
    "that your face fills most of the frame."
)
COVERED_MOUTH_NOTE = (
    "The mouth and the skin around it are covered (a mask, a scarf or a hand), so nothing "
    "was scored: retake it with the whole face uncovered."
)
NOT_A_PHOTO_NOTE = (
    "This looks like a drawing or a filtered photo, so nothing was scored: take a photo "
    "of your face with the camera, without a filter."
)
CUT_FACE_NOTE = (
    "Much of the face is outside the photo, so nothing was scored: retake it with the "
    "whole face in the frame."
)
CLIPPED_COLOUR_NOTE = "the skin is over-exposed to white, its colour lost"
COLOUR_CAST_NOTE = (
    "the photo's colour is a lamp's or a filter's, not the skin's; retake it in daylight, "
    "without a filter"
)
UNEVEN_LIGHT_NOTE = (
    "the light changes from the eyes down (a cap's brim, a lamp above or below); retake it "
    "facing even light, without a hat"
)
LIMITS_NOTE = (
    "Firmness and hydration are not judged offline, nor can it tell whether a mole "
    "changes: see a dermatologist about any spot that changes, bleeds or spreads."
)


def score_examination(examination: Examination) -> dict[str, Any]:
    """The contract's answer (without provider fields) for an examined photo."""
    measures = _measures(examination)
    metrics = {name: {"score": None, "confidence": 0.0} for name in METRICS}
    regions: dict[str, dict[str, float | None]] = {}
    unmeasured: dict[str, str] = {}
    if measures is not None:
        layout = examination.canvas.layout if examination.canvas is not None else None
        under_eyes = (
            _under_eye_sides(examination)
            if layout is not None and "eyes_hidden" not in examination.reasons
            else {}
        )
        values, unmeasured = _raw_values(examination, measures, under_eyes)
        if COLOUR_CAST in examination.reasons:
            for name in COLOUR_METRICS:
                values.pop(name, None)
                unmeasured[name] = COLOUR_CAST_NOTE
        if UNEVEN_LIGHT in examination.reasons:
            for name in UNEVEN_LIGHT_METRICS:
                if name in values or name not in unmeasured:
                    unmeasured[name] = UNEVEN_LIGHT_NOTE
                values.pop(name, None)
        for name, value in values.items():
            metrics[name] = {
                "score": round(falling_score(value, SCORE_ANCHORS[name]), 1),
                "confidence": round(_confidence(examination, name), 2),
            }
        regions = _region_scores(examination, under_eyes)
    scores = [entry["score"] for entry in metrics.values() if entry["score"] is not None]
    concerns = _concerns(metrics, regions)
    return {
        "overall_score": round(float(np.mean(scores)), 1) if scores else None,
        "skin_type": _skin_type(examination, metrics),
        "metrics": metrics,
        "regions": regions,
        "concerns": concerns,
        "image_quality": {
            "acceptable": not examination.reasons,
            "reasons": list(examination.reasons),
        },
        "summary": _summary(examination, concerns, unmeasured),
        "red_flags": [],
    }


def _measures(examination: Examination) -> Measures | None:
    if not examination.judgeable:
        return None
    maps = examination.maps
    if maps is None:
        raise AssertionError("unreachable: a judgeable examination has maps")
    return maps.measure(maps.skin)


def _raw_values(
    examination: Examination,
    measures: Measures,
    under_eyes: dict[str, tuple[dict[str, float | None], str]],
) -> tuple[dict[str, float], dict[str, str]]:
    """Each measured metric's raw value, and why the others were not measured."""
    values = _region_values(measures)
    values["radiance"] = _dullness(measures)
    unmeasured: dict[str, str] = {}
    if "redness" not in values:
        unmeasured["redness"] = CLIPPED_COLOUR_NOTE
    if _texture_unresolved(examination):
        del values["texture"]
        unmeasured["texture"] = (
            f"the face is {examination.face_width_px:.0f} px wide "
            f"and needs {MIN_TEXTURE_FACE_WIDTH_PX:.0f}"
        )
    if examination.canvas is None or examination.canvas.layout is None:
        return values, unmeasured
    if "eyes_hidden" in examination.reasons:
        for name in EYE_METRICS:
            unmeasured[name] = "the eyes are closed or covered"
    elif set(UNDER_EYES) & set(examination.cut_regions):
        for name in EYE_METRICS:
            unmeasured[name] = "the skin under an eye is outside the photo"
    else:
        both, why = _both_under_eyes(under_eyes)
        for name, value in both.items():
            if value is None:
                unmeasured[name] = why
            else:
                values[name] = value
    face_width = examination.face_width_px or 0.0
    for name, minimum, where, measure, kind in (
        ("wrinkles", MIN_WRINKLE_FACE_WIDTH_PX, WRINKLE_REGIONS, _wrinkle_value, "line"),
        ("pores", MIN_PORE_FACE_WIDTH_PX, PORE_REGIONS, _pore_value, "pore"),
    ):
        value = measure(examination, where)
        if face_width < minimum:
            unmeasured[name] = f"the face is {face_width:.0f} px wide and needs {minimum:.0f}"
        elif set(where) & set(examination.cut_regions):
            unmeasured[name] = "part of the skin they show on is outside the photo"
        elif examination.detail is None:
            unmeasured[name] = "the face is turned"
        elif kind in examination.detail.grainy:
            unmeasured[name] = "the photo's grain is as deep as they are"
        elif value is None:
            unmeasured[name] = "too little skin was visible where it shows"
        else:
            values[name] = value
    return values, unmeasured


def _texture_unresolved(examination: Examination) -> bool:
    """Whether the face is too narrow in the photo for its texture to be read (a
    close-up of an area without a face is measured on its own frame)."""
    face_width = examination.face_width_px
    return face_width is not None and face_width < MIN_TEXTURE_FACE_WIDTH_PX


def _region_values(measures: Measures) -> dict[str, float]:
    """The five main metrics' raw values; redness is left out where the skin's colour
    clipped white almost everywhere (nothing says how red it is)."""
    values = {
        "oiliness": measures.shine_pct,
        "pigmentation": measures.unevenness + DARK_SPOT_WEIGHT * measures.dark_spot_pct,
        "texture": measures.texture_pct,
        "acne": measures.blemish_pct,
    }
    if measures.hue_deg is not None and measures.red_patch_pct is not None:
        values["redness"] = (
            REDNESS_HUE_WEIGHT * (REDNESS_NEUTRAL_HUE_DEG - measures.hue_deg)
            + REDNESS_PATCH_WEIGHT * measures.red_patch_pct
        )
    return values


def _dullness(measures: Measures) -> float:
    return RADIANCE_UNEVENNESS_WEIGHT * measures.unevenness + RADIANCE_SHINE_WEIGHT * abs(
        measures.shine_pct - RADIANT_SHINE_PCT
    )


# Something dark across the skin under an eye: the lower rim of glasses, a strand of
# hair. The skin left around it is a strip of the region, darker or lighter than the
# whole (the tear trough lies just under the lid), so the median moves by where the rim
# crosses: black frames across the astronaut's under-eyes took dark circles from 91 to
# 62 or 37, thin ones to 81, lower ones to 99. So past UNDER_EYE_MAX_COVERED_SHARE of
# either region more than UNDER_EYE_COVER_DARKER_L darker than the cheeks (as at the
# reference lightness, so the same on every skin tone), the eye metrics are not
# measured. Measured: 0 % in every photo without frames, at four skin tones (L* scale
# 1.0 to 0.35), in Grace Hopper's (her own glasses' rims stay above) and with dark
# circles painted to 0.45 of the light; 20-88 % under black frames crossing the
# under-eyes at every tone. Frames as dark as the skin are skin to every rule here.
UNDER_EYE_COVER_DARKER_L = 40.0
UNDER_EYE_MAX_COVERED_SHARE = 0.10
UNDER_EYE_COVERED_NOTE = "something dark (glasses' rims, hair) covers the skin under an eye"


UNDER_EYE_TOO_LITTLE_SKIN_NOTE = "too little skin under the eyes was visible"

# The cheek each under-eye is read against is its calm skin: blemishes, dark spots and red
# patches only darken it (a red dot is L* 48 on skin of 77), and the cheek's polygon is
# small, so read with them its median fell 3.5-18 L* against the anchors' span of 8, and
# spots made dark circles look better: the astronaut's 91 read 97 with 6 red dots and
# 99.8 with 24, circles painted under her eyes 78 alone and 99 with 24 dots, a flush 97.
# Left out are the pixels of red patches (pixels.RED_PATCH_EXCESS_A over the person's own
# a*) and of blemish or dark-spot blobs of at least CHEEK_SPOT_MIN_AREA_PX (canvas px;
# smaller ones are an older face's pores and creases: Grace Hopper's cheeks are dotted
# with them) widened by CHEEK_SPOT_RING_PX, the soft edge a spot shades around its core.
# Where more than MAX_MARKED_CHEEK_SHARE of either cheek's skin is so marked, what is left
# is not that cheek's skin (the skin model, sampled on the cheeks, widens with the spots
# and takes in the cheek's shaded edge: 6 dark dots still read 96, not 91), and the
# under-eyes are not read. Clean cheeks are 0-9 % marked (the astronaut at every exposure,
# skin tone, side light; the large and phone portraits), Grace Hopper's, whose own red
# patches and spots mark them, 5-20 %; 6 red dots 25-30 %, 12-48 red or 24 dark, brown,
# pink or purple dots 23-76 %, a flush 28-87 %.
CHEEK_SPOT_MIN_AREA_PX = 8
CHEEK_SPOT_RING_PX = 3
MAX_MARKED_CHEEK_SHARE = 0.25
UNDER_EYE_MARKED_CHEEK_NOTE = (
    "blemishes or redness cover the cheek the skin under an eye is compared with"
)


def _marked_skin(maps: PixelMaps) -> np.ndarray:
    """Where blemishes, dark spots (with the ring their edges shade) and red patches lie:
    skin that is darker for what is on it, not for the light."""
    blobs = ((maps.blemish > 0.5) | (maps.dark_spot > 0.5)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(blobs, connectivity=8)
    large = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= CHEEK_SPOT_MIN_AREA_PX) + 1
    spots = np.isin(labels, large).astype(np.uint8) if count > 1 else blobs
    ring = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * CHEEK_SPOT_RING_PX + 1,) * 2)
    return cast(np.ndarray, (cv2.dilate(spots, ring) > 0) | (maps.red_patch > 0.5))


def _calm_cheek(
    maps: PixelMaps, cheek: np.ndarray, marked: np.ndarray
) -> tuple[float | None, float]:
    """The median L* of the ``cheek``'s calm (not ``marked``) skin-coloured pixels (None
    when too few), and the share of its skin-coloured pixels that is marked."""
    skin = cheek & maps.skin_colour
    share = float(marked[skin].mean()) if skin.any() else 0.0
    return maps.lightness_median(cheek & ~marked), share


def _under_eye_sides(examination: Examination) -> dict[str, tuple[dict[str, float | None], str]]:
    """Per under-eye: dark circles (the cheek's L* minus the under-eye's median L*) and
    eye bags (the cheek's L* minus the darkest band under the lower lid, the tear
    trough), each read against the calm skin of the cheek below it; when not measured
    (both None), why. Measured once a photo, for the face's scores and the regions'
    alike."""
    canvas, maps = examination.canvas, examination.maps
    if canvas is None or canvas.layout is None or maps is None:
        raise AssertionError("unreachable: the eyes are measured on a measured face's layout")
    layout = canvas.layout
    marked = _marked_skin(maps)
    both_cheeks, _ = _calm_cheek(maps, layout.union(CHEEKS), marked)

    def side(name: str) -> tuple[dict[str, float | None], str]:
        # Read against the cheek below it, in the same light: with a window beside the
        # face, one side's shadows are darker for the light alone.
        cheek, marked_share = _calm_cheek(
            maps, layout.regions[name.replace("under_eye", "cheek")], marked
        )
        if marked_share > MAX_MARKED_CHEEK_SHARE:
            return dict.fromkeys(EYE_METRICS), UNDER_EYE_MARKED_CHEEK_NOTE
        cheek = both_cheeks if cheek is None else cheek
        if cheek is None:
            return dict.fromkeys(EYE_METRICS), UNDER_EYE_TOO_LITTLE_SKIN_NOTE
        region = layout.regions[name]
        darker = (cheek - maps.lightness[region]) * to_reference(cheek) > UNDER_EYE_COVER_DARKER_L
        if region.any() and float(darker.mean()) > UNDER_EYE_MAX_COVERED_SHARE:
            return dict.fromkeys(EYE_METRICS), UNDER_EYE_COVERED_NOTE
        median = maps.lightness_median(region)
        trough = _trough_lightness(examination, region)
        if median is None or trough is None:
            return dict.fromkeys(EYE_METRICS), UNDER_EYE_TOO_LITTLE_SKIN_NOTE
        # Read as at the reference lightness, as the eye rule and the blemishes are: the
        # same shadow under the same eye is more L* apart from the cheek in more light.
        # Read absolute, Grace Hopper's dark circles scored 87, 85, 76 and 70 at 0.5,
        # 0.7, 1.0 and 1.3 of the light, and circles painted on the astronaut 82 to 57;
        # so read, 75-80 and 62-71. Grace Hopper's eye bags 78-94 read absolute, 83-90 so.
        scale = to_reference(cheek)
        return {"dark_circles": (cheek - median) * scale, "eye_bags": (cheek - trough) * scale}, ""

    return {name: side(name) for name in UNDER_EYES}


def _both_under_eyes(
    sides: dict[str, tuple[dict[str, float | None], str]],
) -> tuple[dict[str, float | None], str]:
    """The face's dark circles and eye bags: the mean of both under-eyes', or none when
    either is not measured (something over an eye first, then spots or redness on a
    cheek, then too little skin)."""
    whys = {why for _, why in sides.values()}
    for why in (
        UNDER_EYE_COVERED_NOTE,
        UNDER_EYE_MARKED_CHEEK_NOTE,
        UNDER_EYE_TOO_LITTLE_SKIN_NOTE,
    ):
        if why in whys:
            return dict.fromkeys(EYE_METRICS), why
    return {
        metric: float(np.mean([values[metric] for values, _ in sides.values()]))
        for metric in EYE_METRICS
    }, ""


# The tear trough: the darkest band of rows under the eye (row means of its skin), each
# row with at least this many skin pixels, smoothed over this many rows so one row of
# noise is not a trough.
TROUGH_MIN_ROW_PIXELS = 4
TROUGH_SMOOTHING_ROWS = 5


def _trough_lightness(examination: Examination, region: np.ndarray) -> float | None:
    maps = examination.maps
    if maps is None:
        raise AssertionError("unreachable: the eyes are measured on a measured face")
    selected = region & maps.skin_colour
    rows = np.flatnonzero(selected.any(axis=1))
    if rows.size == 0:
        return None
    band = slice(rows[0], rows[-1] + 1)
    counts = selected[band].sum(axis=1)
    sums = (maps.lightness[band] * selected[band]).sum(axis=1)
    means = sums[counts >= TROUGH_MIN_ROW_PIXELS] / counts[counts >= TROUGH_MIN_ROW_PIXELS]
    if means.size < TROUGH_SMOOTHING_ROWS:
        return None
    window = np.ones(TROUGH_SMOOTHING_ROWS) / TROUGH_SMOOTHING_ROWS
    return float(np.convolve(means, window, "valid").min())


def _wrinkle_value(examination: Examination, names: tuple[str, ...]) -> float | None:
    if examination.detail is None:
        return None
    detail_canvas = examination.detail_canvas
    if detail_canvas is None or detail_canvas.layout is None:
        raise AssertionError("unreachable: the detail maps come with their face canvas")
    found = examination.detail.wrinkles(detail_canvas.layout.union(names))
    if found is None:
        return None
    density, depth = found
    return density + WRINKLE_DEPTH_WEIGHT * depth


def _pore_value(examination: Examination, names: tuple[str, ...]) -> float | None:
    if examination.detail is None:
        return None
    detail_canvas = examination.detail_canvas
    if detail_canvas is None or detail_canvas.layout is None:
        raise AssertionError("unreachable: the detail maps come with their face canvas")
    return examination.detail.pores(detail_canvas.layout.union(names))


# Which metrics each landmark region is scored on, beyond the five main ones' colour,
# shine and spot measures.
REGION_DETAIL_METRICS = {
    "forehead": ("wrinkles",),
    "nose": ("pores",),
    "left_cheek": ("pores",),
    "right_cheek": ("pores",),
    "left_under_eye": ("dark_circles", "eye_bags", "wrinkles"),
    "right_under_eye": ("dark_circles", "eye_bags", "wrinkles"),
    "left_crows_feet": ("wrinkles",),
    "right_crows_feet": ("wrinkles",),
    "left_nasolabial": ("wrinkles",),
    "right_nasolabial": ("wrinkles",),
}


def _region_scores(
    examination: Examination, under_eyes: dict[str, tuple[dict[str, float | None], str]]
) -> dict[str, dict[str, float | None]]:
    canvas = examination.canvas
    if canvas is None or canvas.layout is None:
        return {}
    maps = examination.maps
    if maps is None:
        raise AssertionError("unreachable: regions are scored on a measured face")
    withheld = withheld_for(examination.reasons)
    if _texture_unresolved(examination):
        withheld = (*withheld, "texture")
    face_width = examination.face_width_px or 0.0
    scores: dict[str, dict[str, float | None]] = {}
    for region in (*MAIN_REGIONS, *REGION_DETAIL_METRICS):
        if region in scores:
            continue
        values: dict[str, float | None] = {}
        if region in examination.cut_regions:
            # A region cut by the photo's edge is measured on what is left of it: not
            # the region, so not scored.
            measured_here = REGION_METRICS if region in MAIN_REGIONS else ()
            scores[region] = dict.fromkeys((*measured_here, *REGION_DETAIL_METRICS.get(region, ())))
            continue
        if region in MAIN_REGIONS:
            measures = maps.measure(maps.skin & canvas.layout.regions[region])
            main = _region_values(measures) if measures is not None else {}
            values.update({name: main.get(name) for name in REGION_METRICS})
        under_eye = under_eyes[region][0] if region in under_eyes else {}
        for name in REGION_DETAIL_METRICS.get(region, ()):
            value = None
            if name in EYE_METRICS:
                value = under_eye.get(name)
            elif name == "wrinkles" and face_width >= MIN_WRINKLE_FACE_WIDTH_PX:
                value = _wrinkle_value(examination, (region,))
            elif name == "pores" and face_width >= MIN_PORE_FACE_WIDTH_PX:
                value = _pore_value(examination, (region,))
            values[name] = value
        scores[region] = {
            name: None
            if value is None or name in withheld
            else round(falling_score(value, SCORE_ANCHORS[name]), 1)
            for name, value in values.items()
        }
    return scores


def _confidence(examination: Examination, metric: str) -> float:
    confidence = BASE_CONFIDENCE[metric]
    if examination.face_width_px is not None:
        detail = (examination.face_width_px - SMALL_FACE_WIDTH_PX) / (
            FULL_DETAIL_FACE_WIDTH_PX - SMALL_FACE_WIDTH_PX
        )
        confidence *= SMALL_FACE_CONFIDENCE + (1 - SMALL_FACE_CONFIDENCE) * min(max(detail, 0), 1)
    if metric in FULL_DETAIL_CONFIDENCE_WIDTH_PX and examination.face_width_px is not None:
        minimum = MIN_WRINKLE_FACE_WIDTH_PX if metric == "wrinkles" else MIN_PORE_FACE_WIDTH_PX
        share = (examination.face_width_px - minimum) / (
            FULL_DETAIL_CONFIDENCE_WIDTH_PX[metric] - minimum
        )
        confidence *= DETAIL_MIN_CONFIDENCE_SHARE + (1 - DETAIL_MIN_CONFIDENCE_SHARE) * min(
            max(share, 0.0), 1.0
        )
    for reason in examination.reasons:
        confidence *= REASON_CONFIDENCE.get(reason, 1.0)
    if "blurry" in examination.reasons:
        kind = "fine" if metric in FINE_DETAIL_METRICS else "other"
        confidence *= BLURRY_CONFIDENCE[kind]
    return min(max(confidence, 0.0), 1.0)


def _concerns(
    metrics: dict[str, dict[str, Any]], regions: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    concerns: list[dict[str, Any]] = []
    for name, entry in metrics.items():
        score = entry["score"]
        if score is None or score > CONCERN_MAX_SCORE:
            continue
        if entry["confidence"] < CONCERN_MIN_CONFIDENCE:
            continue
        concerns.append(
            {
                "name": CONCERN_NAMES[name],
                "severity": _severity(score),
                "region": _worst_region(name, regions),
                "score": score,
            }
        )
    # Worst first; the score only orders them, the contract's concern has none.
    concerns.sort(key=lambda concern: concern["score"])
    return [{key: c[key] for key in ("name", "severity", "region")} for c in concerns]


def _severity(score: float) -> str:
    # The contract's bands: "average" (50-70] is mild, "poor" (30-50] moderate, "bad" severe.
    band = band_for(score)
    severities: dict[str | None, str] = {"average": "mild", "poor": "moderate"}
    return severities.get(band, "severe")


def _worst_region(metric: str, regions: dict[str, dict[str, Any]]) -> str | None:
    scored = [
        (scores[metric], region)
        for region, scores in regions.items()
        if scores.get(metric) is not None
    ]
    if not scored:
        return None
    score, region = min(scored)
    return region if score <= CONCERN_MAX_SCORE else None


def _skin_type(examination: Examination, metrics: dict[str, dict[str, Any]]) -> str | None:
    """Oily, combination, normal or dry from shine, only on a clear, large enough face.

    Dry is only said of matte skin with poor texture: a matte photo alone cannot tell
    dry skin from normal or powdered skin.
    """
    if examination.canvas is None or examination.canvas.layout is None or examination.reasons:
        return None
    if (examination.face_width_px or 0) < SKIN_TYPE_MIN_FACE_WIDTH_PX:
        return None
    layout = examination.canvas.layout
    maps = examination.maps
    if maps is None:
        raise AssertionError("unreachable: a face without photo issues was measured")
    t_zone = layout.union(("forehead", "nose", "chin"))
    cheeks = layout.union(CHEEKS)
    t_measures, cheek_measures = maps.measure(maps.skin & t_zone), maps.measure(maps.skin & cheeks)
    if t_measures is None or cheek_measures is None:
        return None
    t_shine, cheek_shine = t_measures.shine_pct, cheek_measures.shine_pct
    if t_shine >= OILY_SHINE_PCT:
        if cheek_shine >= OILY_CHEEK_SHARE * t_shine:
            return "oily"
        return "combination" if cheek_shine < MATTE_SHINE_PCT else None
    if t_shine < MATTE_SHINE_PCT and cheek_shine < MATTE_SHINE_PCT:
        texture = metrics["texture"]["score"]
        if texture is not None and texture <= DRY_MAX_TEXTURE_SCORE:
            return "dry"
        return "normal"
    return None


def _summary(
    examination: Examination, concerns: list[dict[str, Any]], unmeasured: dict[str, str]
) -> str:
    sentences = [DISCLAIMER]
    if examination.reasons:
        sentences.append("Photo issues: " + ", ".join(_words(r) for r in examination.reasons) + ".")
    if "no_face" in examination.reasons:
        sentences.append(NO_FACE_NOTE)
    elif examination.face_cut_off:
        sentences.append(CUT_FACE_NOTE)
    elif FACE_COVERED in examination.reasons:
        sentences.append(COVERED_MOUTH_NOTE)
    elif NOT_A_PHOTO in examination.reasons:
        sentences.append(NOT_A_PHOTO_NOTE)
    elif ONE_HUE in examination.reasons:
        sentences.append(ONE_HUE_NOTE)
    elif not examination.judgeable:
        no_skin_colour = COLOUR_CAST in examination.reasons
        sentences.append(NO_SKIN_COLOUR_NOTE if no_skin_colour else NOT_JUDGEABLE_NOTE)
    elif concerns:
        listed = ", ".join(f"{c['name']} ({c['severity']})" for c in concerns[:4])
        sentences.append(f"Most visible: {listed}.")
    else:
        sentences.append("No marked concern was measured.")
    if unmeasured:
        # Metrics left out for one reason are named together: a colour cast leaves out
        # seven, and the summary has room for the reason once.
        names_by_why: dict[str, list[str]] = {}
        for name, why in unmeasured.items():
            names_by_why.setdefault(why, []).append(_words(name))
        listed = "; ".join(f"{', '.join(names)}: {why}" for why, names in names_by_why.items())
        sentences.append(f"Not measured ({listed}).")
    sentences.append(LIMITS_NOTE)
    return " ".join(sentences)[:SUMMARY_MAX_LENGTH]


def _words(reason: str) -> str:
    return reason.replace("_", " ")
