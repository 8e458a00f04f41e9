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

import numpy as np

from ai.analysis import SUMMARY_MAX_LENGTH
from ai.offline.examine import Examination
from ai.offline.pixels import Measures
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
    "dark_circles": Anchors(good=2.0, bad=10.0),  # cheek L* minus under-eye L*
}
# What a photo cannot show honestly; these stay None whatever the pixels.
UNJUDGED_METRICS = {
    "hydration": "water content does not show in colour or shine",
    "wrinkles": "fine lines need a resolution and lighting a selfie rarely has",
    "pores": "pores need a close-up; a face photo blurs them into texture",
    "radiance": "glow is dominated by the lighting, not the skin",
    "firmness": "firmness is a mechanical property",
    "eye_bags": "puffiness is a 3-D shape; one frontal photo cannot measure it",
}
REGION_METRICS = ("redness", "oiliness", "pigmentation", "texture", "acne")
# How far each measure can be trusted at best; multiplied down by the photo's faults.
BASE_CONFIDENCE = {
    "redness": 0.6,
    "oiliness": 0.5,
    "pigmentation": 0.45,
    "texture": 0.4,
    "acne": 0.45,
    "dark_circles": 0.4,
}
FINE_DETAIL_METRICS = ("texture", "acne", "pigmentation")
# Face width (px in the photo) from which detail is fully resolved, and the floor factor.
FULL_DETAIL_FACE_WIDTH_PX = 320.0
SMALL_FACE_WIDTH_PX = 80.0
SMALL_FACE_CONFIDENCE = 0.4
REASON_CONFIDENCE = {
    "too_dark": 0.5,
    "too_bright": 0.5,
    "too_small": 0.7,
    "no_face": 0.5,
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
LIMITS_NOTE = (
    "Wrinkles, firmness, hydration, pores, radiance and eye bags are not judged offline, "
    "nor can it tell whether a mole changes: see a dermatologist about any spot that "
    "changes, bleeds or spreads."
)


def score_examination(examination: Examination) -> dict:
    """The contract's answer (without provider fields) for an examined photo."""
    measures = _measures(examination)
    metrics = {name: {"score": None, "confidence": 0.0} for name in METRICS}
    regions: dict[str, dict[str, float | None]] = {}
    if measures is not None:
        for name, value in _raw_values(examination, measures).items():
            if value is not None:
                metrics[name] = {
                    "score": round(falling_score(value, SCORE_ANCHORS[name]), 1),
                    "confidence": round(_confidence(examination, name), 2),
                }
        regions = _region_scores(examination)
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
        "summary": _summary(examination, concerns),
        "red_flags": [],
    }


def _measures(examination: Examination) -> Measures | None:
    if not examination.judgeable:
        return None
    return examination.maps.measure(examination.maps.skin)


def _raw_values(examination: Examination, measures: Measures) -> dict[str, float | None]:
    values = _region_values(measures)
    values["dark_circles"] = _under_eye_darkness(examination)
    return values


def _region_values(measures: Measures) -> dict[str, float]:
    return {
        "redness": REDNESS_HUE_WEIGHT * (REDNESS_NEUTRAL_HUE_DEG - measures.hue_deg)
        + REDNESS_PATCH_WEIGHT * measures.red_patch_pct,
        "oiliness": measures.shine_pct,
        "pigmentation": measures.unevenness + DARK_SPOT_WEIGHT * measures.dark_spot_pct,
        "texture": measures.texture_pct,
        "acne": measures.blemish_pct,
    }


def _under_eye_darkness(examination: Examination) -> float | None:
    """Cheek L* minus under-eye L*; None unless both eyes were found."""
    layout = examination.layout
    if layout is None or not layout.eyes_found:
        return None
    maps = examination.maps
    shape = maps.skin.shape
    under_eye = [maps.lightness_median(box.mask(shape)) for box in layout.under_eyes]
    cheeks = maps.lightness_median(
        layout.regions["left_cheek"].mask(shape) | layout.regions["right_cheek"].mask(shape)
    )
    if cheeks is None or None in under_eye:
        return None
    return cheeks - float(np.mean(under_eye))


def _region_scores(examination: Examination) -> dict[str, dict[str, float | None]]:
    layout = examination.layout
    if layout is None:
        return {}
    maps = examination.maps
    scores = {}
    for region, box in layout.regions.items():
        measures = maps.measure(maps.skin & box.mask(maps.skin.shape))
        if measures is None:
            scores[region] = dict.fromkeys(REGION_METRICS)
            continue
        values = _region_values(measures)
        scores[region] = {
            name: round(falling_score(values[name], SCORE_ANCHORS[name]), 1)
            for name in REGION_METRICS
        }
    return scores


def _confidence(examination: Examination, metric: str) -> float:
    confidence = BASE_CONFIDENCE[metric]
    if examination.face_width_px is not None:
        detail = (examination.face_width_px - SMALL_FACE_WIDTH_PX) / (
            FULL_DETAIL_FACE_WIDTH_PX - SMALL_FACE_WIDTH_PX
        )
        confidence *= SMALL_FACE_CONFIDENCE + (1 - SMALL_FACE_CONFIDENCE) * min(max(detail, 0), 1)
    for reason in examination.reasons:
        confidence *= REASON_CONFIDENCE.get(reason, 1.0)
    if "blurry" in examination.reasons:
        kind = "fine" if metric in FINE_DETAIL_METRICS else "other"
        confidence *= BLURRY_CONFIDENCE[kind]
    return min(max(confidence, 0.0), 1.0)


def _concerns(metrics: dict[str, dict], regions: dict[str, dict]) -> list[dict]:
    concerns = []
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
    return {"average": "mild", "poor": "moderate"}.get(band, "severe")


def _worst_region(metric: str, regions: dict[str, dict]) -> str | None:
    scored = [
        (scores[metric], region)
        for region, scores in regions.items()
        if scores.get(metric) is not None
    ]
    if not scored:
        return None
    score, region = min(scored)
    return region if score <= CONCERN_MAX_SCORE else None


def _skin_type(examination: Examination, metrics: dict[str, dict]) -> str | None:
    """Oily, combination, normal or dry from shine, only on a clear, large enough face.

    Dry is only said of matte skin with poor texture: a matte photo alone cannot tell
    dry skin from normal or powdered skin.
    """
    layout = examination.layout
    if layout is None or examination.reasons:
        return None
    if (examination.face_width_px or 0) < SKIN_TYPE_MIN_FACE_WIDTH_PX:
        return None
    maps = examination.maps
    shape = maps.skin.shape
    t_zone = layout.regions["forehead"].mask(shape) | layout.regions["nose"].mask(shape)
    t_zone |= layout.regions["chin"].mask(shape)
    cheeks = layout.regions["left_cheek"].mask(shape) | layout.regions["right_cheek"].mask(shape)
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


def _summary(examination: Examination, concerns: list[dict]) -> str:
    sentences = [DISCLAIMER]
    if examination.reasons:
        sentences.append("Photo issues: " + ", ".join(_words(r) for r in examination.reasons) + ".")
    if not examination.judgeable:
        sentences.append(NOT_JUDGEABLE_NOTE)
    elif concerns:
        listed = ", ".join(f"{c['name']} ({c['severity']})" for c in concerns[:4])
        sentences.append(f"Most visible: {listed}.")
    else:
        sentences.append("No marked concern was measured.")
    sentences.append(LIMITS_NOTE)
    return " ".join(sentences)[:SUMMARY_MAX_LENGTH]


def _words(reason: str) -> str:
    return reason.replace("_", " ")
