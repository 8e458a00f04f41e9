"""The offline pipeline's version (``ai.offline.ENGINE``) moves with its readings.

Every analysis records the version that measured it (``measured_by``), and progress
compares only scores of one version: so a change that moves what a photo reads as must
raise the version, or a person's chart would show the change of the code as a change of
their skin. This test keeps the readings of reference photos (real portraits and edits
of them, close-ups, photos of no face) under the version that made them, in
``engine_readings.json``, and fails when they move while the version stays.

After a change that moves them on purpose: raise ENGINE in ``ai/offline/provider.py``,
then record the readings again:

    WRITE_ENGINE_READINGS=1 .venv/bin/pytest -n 0 ai/tests/test_engine_version.py
"""

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ai.offline import ENGINE, OfflineProvider
from ai.providers import SkinProfile
from tests import photos

READINGS = Path(__file__).resolve().parent / "engine_readings.json"
# A score may move this much across machines (floating point in the face mesh and the
# filters) without the pipeline having changed; a threshold or formula moves more.
SCORE_TOLERANCE = 1.0

REFERENCE_PHOTOS: dict[str, tuple[Callable[[], np.ndarray], str]] = {
    "astronaut": (photos.astronaut, "face"),
    "astronaut reddened": (lambda: photos.redder(photos.astronaut()), "face"),
    "astronaut with red dots": (
        lambda: photos.with_dots(photos.astronaut(), (200, 60, 60)),
        "face",
    ),
    "astronaut, dark under-eyes": (
        lambda: photos.with_dark_under_eyes(photos.astronaut()),
        "face",
    ),
    "astronaut under a warm lamp": (
        lambda: photos.under_a_lamp(photos.astronaut(), (1.0, 0.85, 0.6)),
        "face",
    ),
    "astronaut, darker skin": (lambda: photos.skin_toned(photos.astronaut(), 0.55), "face"),
    "astronaut, dim": (lambda: photos.exposed(photos.astronaut(), 0.5), "face"),
    "astronaut, eyes closed": (lambda: photos.with_closed_eyes(photos.astronaut()), "face"),
    "large portrait": (photos.large_portrait, "face"),
    "large portrait, grainy": (lambda: photos.grainy(photos.large_portrait(), 5), "face"),
    "large portrait, fine lines": (
        lambda: photos.with_fine_lines(photos.large_portrait()),
        "face",
    ),
    "grace hopper": (photos.grace_hopper, "face"),
    "grace hopper in portrait mode": (
        lambda: photos.in_portrait_mode(photos.grace_hopper(), 12, photos.GRACE_HOPPER_FACE),
        "face",
    ),
    "grace hopper, face blurred": (
        lambda: photos.with_the_head_blurred(photos.grace_hopper(), 6, photos.GRACE_HOPPER_FACE),
        "face",
    ),
    "astronaut, darker skin before a black backdrop": (
        lambda: photos.before_a_backdrop(photos.skin_toned(photos.astronaut(), 0.4), 10),
        "face",
    ),
    "astronaut before a white wall": (
        lambda: photos.before_a_backdrop(photos.astronaut(), 250),
        "face",
    ),
    "grace hopper, masked": (
        lambda: photos.with_a_mask(
            photos.grace_hopper(),
            photos.MASK_COLOURS["navy"],
            top=0.58,
            face=photos.GRACE_HOPPER_FACE,
        ),
        "face",
    ),
    "cheek close-up": (lambda: photos.cheek_close_up(photos.large_portrait()), "left_cheek"),
    "two faces as a cheek": (lambda: photos.with_a_second_face(1.0), "left_cheek"),
    "coffee": (lambda: photos.non_face("coffee"), "face"),
    "cat as a cheek": (lambda: photos.non_face("chelsea"), "left_cheek"),
}


def readings() -> dict[str, dict]:
    """What the pipeline reads in each reference photo: the overall and every metric's
    score, and the photo's quality verdict and reasons."""
    provider = OfflineProvider()
    found = {}
    for name, (make, area) in REFERENCE_PHOTOS.items():
        analysis = provider.analyze_skin(
            image_jpeg=photos.encode(make()), area=area, profile=SkinProfile()
        )
        found[name] = {
            "area": area,
            "overall_score": analysis.overall_score,
            "metrics": {metric: score.score for metric, score in analysis.metrics.items()},
            "acceptable": analysis.image_quality.acceptable,
            "reasons": list(analysis.image_quality.reasons),
        }
    return found


def moved(before: dict, now: dict) -> list[str]:
    """The readings of ``now`` that differ from ``before``: a verdict or a reason, a score
    that appears or goes, or one more than SCORE_TOLERANCE away."""

    def score_moved(old: float | None, new: float | None) -> bool:
        if old is None or new is None:
            return old is not new
        return abs(old - new) > SCORE_TOLERANCE

    changes = []
    for name in sorted(set(before) | set(now)):
        old, new = before.get(name), now.get(name)
        if old is None or new is None:
            changes.append(f"{name}: {'new' if old is None else 'gone'}")
            continue
        for key in ("area", "acceptable", "reasons"):
            if old[key] != new[key]:
                changes.append(f"{name}: {key} {old[key]} -> {new[key]}")
        scores = [("overall_score", old["overall_score"], new["overall_score"])] + [
            (metric, old["metrics"].get(metric), new["metrics"].get(metric))
            for metric in sorted(set(old["metrics"]) | set(new["metrics"]))
        ]
        changes += [f"{name}: {key} {a} -> {b}" for key, a, b in scores if score_moved(a, b)]
    return changes


def test_the_readings_of_the_reference_photos_are_those_of_this_engine_version():
    now = readings()
    if os.environ.get("WRITE_ENGINE_READINGS"):
        READINGS.write_text(json.dumps({"engine": ENGINE, "readings": now}, indent=1) + "\n")
        pytest.skip(f"readings of {ENGINE} recorded in {READINGS.name}")
    recorded = json.loads(READINGS.read_text())
    assert recorded["engine"] == ENGINE, (
        f"{READINGS.name} holds the readings of {recorded['engine']}, not of {ENGINE}: "
        "record them (see this module's docstring)"
    )
    changes = moved(recorded["readings"], now)
    assert not changes, (
        f"The pipeline reads these photos otherwise than {ENGINE} did. If that is meant, "
        "raise ENGINE in ai/offline/provider.py and record the readings again (see this "
        "module's docstring):\n" + "\n".join(changes)
    )


def test_a_moved_threshold_is_caught():
    """The comparison itself: a reason, a verdict or a score beyond the tolerance."""
    reading = {
        "area": "face",
        "overall_score": 80.0,
        "metrics": {"redness": 70.0, "pores": None},
        "acceptable": True,
        "reasons": [],
    }
    assert moved({"a": reading}, {"a": reading}) == []
    within = {**reading, "metrics": {"redness": 70.9, "pores": None}}
    assert moved({"a": reading}, {"a": within}) == []
    for changed in (
        {**reading, "metrics": {"redness": 68.5, "pores": None}},
        {**reading, "metrics": {"redness": 70.0, "pores": 55.0}},
        {**reading, "reasons": ["blurry"]},
        {**reading, "acceptable": False},
    ):
        assert moved({"a": reading}, {"a": changed}), changed
