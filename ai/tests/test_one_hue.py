"""A face all in one hue is not scored: a statue, a painted ball, a filter's tint.

Skin is told by its colour, and a face in one hue has none of its own: the colour is a
bronze's, a pumpkin's or a sepia filter's. Flagged only as a colour cast, such faces
were scored on texture alone (overall 95-96, a ball with eyes and a mouth drawn on as
much as a bronze bust). Real faces in colour, under lamps, white balances and
exposures far off, with darker skin and with half their colour, are never taken for it.
"""

import cv2
import numpy as np
import pytest

from ai.tests.analysing import analyse
from tests import photos


def more_saturated(picture: np.ndarray, factor: float) -> np.ndarray:
    hsv = cv2.cvtColor(picture, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * factor, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


ONE_HUE_FACES = {
    "astronaut_in_bronze": lambda: photos.as_a_statue(photos.astronaut(), "bronze"),
    "astronaut_in_clay": lambda: photos.as_a_statue(photos.astronaut(), "clay"),
    "grace_hopper_in_bronze": lambda: photos.as_a_statue(photos.grace_hopper(), "bronze"),
    "grace_hopper_in_clay": lambda: photos.as_a_statue(photos.grace_hopper(), "clay"),
    "a_painted_ball": photos.painted_ball,
    "a_pumpkin": lambda: photos.painted_ball((235, 140, 60)),
    "astronaut_in_sepia": lambda: photos.toned(photos.astronaut(), (1.07, 0.74, 0.43)),
    "grace_hopper_in_black_and_white": lambda: photos.faded(photos.grace_hopper(), 0.0),
}


@pytest.mark.parametrize("picture", ONE_HUE_FACES.values(), ids=ONE_HUE_FACES)
def test_a_face_in_one_hue_is_not_scored_and_the_summary_says_what_to_do(picture):
    analysis = analyse(picture())
    assert "one_hue" in analysis.image_quality.reasons
    assert "colour_cast" not in analysis.image_quality.reasons
    assert analysis.image_quality.acceptable is False
    assert analysis.overall_score is None
    assert all(metric.score is None for metric in analysis.metrics.values())
    assert analysis.regions == {}
    assert "one hue" in analysis.summary
    assert "take a photo of your own face in daylight, without a filter" in analysis.summary


def real_faces(portrait, name: str) -> dict[str, np.ndarray]:
    face = portrait()
    return {
        f"{name}_warm_lamp": photos.under_a_lamp(face, (1.3, 1.0, 0.7)),
        f"{name}_tungsten": photos.under_a_lamp(face, (1.5, 1.0, 0.5)),
        f"{name}_cool_lamp": photos.under_a_lamp(face, (0.75, 1.0, 1.3)),
        f"{name}_magenta_white_balance": photos.under_a_lamp(face, (1.1, 0.9, 1.1)),
        f"{name}_green_white_balance": photos.under_a_lamp(face, (1.0, 1.1, 1.0)),
        f"{name}_dim": photos.exposed(face, 0.5),
        f"{name}_bright": photos.exposed(face, 1.3),
        f"{name}_darker_skin": photos.skin_toned(face, 0.6),
        f"{name}_much_darker_skin": more_saturated(photos.skin_toned(face, 0.45), 1.3),
        f"{name}_half_its_colour": photos.faded(face, 0.5),
        f"{name}_side_lit": photos.lit_from_one_side(face, 0.4),
    }


@pytest.mark.parametrize(
    "portrait, name",
    [(photos.astronaut, "astronaut"), (photos.grace_hopper, "grace_hopper")],
    ids=["astronaut", "grace_hopper"],
)
def test_real_faces_in_colour_are_not_taken_for_one_hue(portrait, name):
    for label, picture in real_faces(portrait, name).items():
        assert "one_hue" not in analyse(picture).image_quality.reasons, label


@pytest.mark.parametrize(
    "picture",
    [
        photos.phone_portrait,
        lambda: photos.faded(photos.phone_portrait(), 0.5),
        photos.large_portrait,
    ],
    ids=["phone_portrait", "phone_portrait_muted", "large_portrait"],
)
def test_phone_and_large_portraits_are_not_taken_for_one_hue(picture):
    analysis = analyse(picture())
    assert "one_hue" not in analysis.image_quality.reasons
    assert analysis.overall_score is not None


@pytest.mark.parametrize(
    ("spreads", "one_hue"),
    [
        # (log chromaticity's spread, hue's spread in degrees, the face's median C*),
        # as measured on each.
        ((0.133, 2.85, 26.0), False),  # foundation in mild warm light: even hue, colour
        ((0.112, 2.89, 24.0), False),  # foundation and a muted style
        ((0.034, 6.3, 8.3), False),  # half the colour in a dim tungsten room
        ((0.051, 5.2, 10.0), False),  # pale skin
        ((0.031, 11.5, 5.3), True),  # black and white with 15 % of the colour left
        ((0.027, 4.7, 6.0), True),  # 30 % of the colour left
        ((0.012, None, 2.9), True),  # black and white
        ((0.052, 1.6, 43.4), True),  # sepia
        ((0.024, 0.96, 35.8), True),  # a bronze statue
        ((0.061, 2.5, 24.0), True),  # a ball with a blush and colour noise
        ((0.009, 0.95, 24.1), True),  # a painted ball
    ],
)
def test_a_face_is_in_one_hue_by_its_colours_spreads_and_how_much_colour_it_has(spreads, one_hue):
    from ai.offline.examine import spreads_in_one_hue

    assert spreads_in_one_hue(*spreads) is one_hue
