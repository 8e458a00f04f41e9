"""Faces whose mouth is covered (a mask, a scarf, a hand) are not scored; uncovered
faces, in any light and skin tone tried, still are. Real portraits and controlled
edits of them (tests/photos.py)."""

import cv2
import numpy as np
import pytest
from PIL import Image, ImageEnhance

from ai.analysis import METRICS, SkinAnalysis
from ai.offline import OVERLAY_METRICS, render_overlay
from ai.offline.images import decode_image
from ai.offline.scores import COVERED_MOUTH_NOTE
from ai.tests.analysing import analyse
from tests import photos

# Skin-like cloth first: the skin model takes it for skin.
MASK_COLOURS = {
    name: photos.MASK_COLOURS[name]
    for name in ("pink", "peach", "tan", "red", "navy", "white", "black")
}


def assert_not_scored_as_covered(analysis: SkinAnalysis) -> None:
    assert "face_covered" in analysis.image_quality.reasons
    assert not analysis.image_quality.acceptable
    assert analysis.overall_score is None
    assert all(analysis.metrics[name].score is None for name in METRICS)
    assert analysis.concerns == ()
    assert COVERED_MOUTH_NOTE in analysis.summary


class TestCoveredMouths:
    @pytest.mark.parametrize("colour", MASK_COLOURS.values(), ids=MASK_COLOURS)
    def test_a_mask_of_any_colour_is_not_scored(self, colour):
        # Before, a pink mask read as severe redness (3-7) and the others as skin
        # (overall 90-92): the skin model samples the person's colour from the cheeks.
        masked = (
            photos.with_a_mask(photos.astronaut(), colour, top=0.7),
            photos.with_a_mask(
                photos.grace_hopper(), colour, top=0.58, face=photos.GRACE_HOPPER_FACE
            ),
        )
        for picture in masked:
            assert_not_scored_as_covered(analyse(picture))

    @pytest.mark.parametrize("top", (0.66, 0.75))
    def test_a_mask_from_over_the_nose_or_below_it_on_a_large_face(self, top):
        masked = photos.with_a_mask(photos.large_portrait(), MASK_COLOURS["peach"], top=top)
        assert_not_scored_as_covered(analyse(masked))

    def test_a_hand_over_the_mouth_is_not_scored(self):
        assert_not_scored_as_covered(analyse(photos.with_a_hand_over_the_mouth(photos.astronaut())))

    @pytest.mark.parametrize("colour", ("black", "white", "peach"))
    def test_a_mask_on_darker_skin_is_not_scored(self, colour):
        # A dark mask on dark skin: the mesh put the chin below the mask's edge, so the
        # lips are compared with the skin right around them, not with the chin.
        for tone in (0.45, 0.35):
            darker = photos.skin_toned(photos.astronaut(), tone)
            masked = photos.with_a_mask(darker, MASK_COLOURS[colour], top=0.75)
            assert_not_scored_as_covered(analyse(masked))

    def test_a_mask_with_sunglasses_is_not_scored(self):
        # The mouth's depth is read against the eyes': dark lenses make theirs deeper.
        masked = photos.with_a_mask(photos.with_sunglasses(photos.astronaut()), (235, 235, 235))
        assert_not_scored_as_covered(analyse(masked))

    @pytest.mark.parametrize("area", ("left_cheek", "right_cheek", "chin"))
    def test_a_masked_face_sent_as_an_area_the_mask_covers_is_not_scored(self, area):
        # Measured as that area of the face, a pink mask read as redness 4 on the chin.
        for portrait, face, top in (
            (photos.astronaut(), None, 0.7),
            (photos.grace_hopper(), photos.GRACE_HOPPER_FACE, 0.58),
        ):
            masked = photos.with_a_mask(portrait, MASK_COLOURS["pink"], top=top, face=face)
            assert_not_scored_as_covered(analyse(masked, area))
            unmasked = analyse(portrait, area)
            assert "face_covered" not in unmasked.image_quality.reasons
            assert unmasked.overall_score is not None

    def test_no_overlay_draws_a_measure_over_a_mask(self):
        photo = photos.encode(photos.with_a_mask(photos.astronaut(), MASK_COLOURS["pink"]))
        for metric in OVERLAY_METRICS:
            drawn = cv2.imdecode(np.frombuffer(render_overlay(photo, metric), np.uint8), 1)
            assert np.array_equal(drawn, decode_image(photo)), metric

    def test_the_forehead_of_a_masked_face_is_scored(self):
        masked = photos.with_a_mask(photos.astronaut(), MASK_COLOURS["pink"])
        analysis = analyse(masked, "forehead")
        assert "face_covered" not in analysis.image_quality.reasons
        assert analysis.overall_score is not None


class TestUncoveredMouths:
    """Real lips are darker than the chin at their line or of a colour of their own; in
    dim light and on dark skin both contrasts shrink, and must not read as a mask."""

    @pytest.mark.parametrize("tone", (1.0, 0.55, 0.35))
    @pytest.mark.parametrize("exposure", (1.0, 0.6))
    def test_the_astronaut_in_any_skin_tone_and_light_is_scored(self, tone, exposure):
        picture = photos.exposed(photos.skin_toned(photos.astronaut(), tone), exposure)
        analysis = analyse(picture)
        assert "face_covered" not in analysis.image_quality.reasons
        assert analysis.overall_score is not None
        assert COVERED_MOUTH_NOTE not in analysis.summary

    @pytest.mark.parametrize(
        "edit",
        (
            lambda picture: picture,
            photos.redder,
            lambda picture: photos.skin_toned(picture, 0.45),
            lambda picture: photos.lit_from_one_side(picture, 0.4),
        ),
        ids=["as_taken", "reddened", "darker_skin", "lit_from_one_side"],
    )
    def test_grace_hopper_s_thin_pale_lips_are_not_a_mask(self, edit):
        analysis = analyse(edit(photos.grace_hopper()))
        assert "face_covered" not in analysis.image_quality.reasons
        assert analysis.overall_score is not None

    @pytest.mark.parametrize("contrast", (0.5, 0.3, 0.2))
    def test_a_flat_photo_is_not_taken_for_a_mask(self, contrast):
        # Lowered contrast makes the lips' line shallow, as a mask's folds are; the eyes'
        # depth shrinks with it, and the mouth's is read against theirs.
        for portrait in (photos.astronaut(), photos.grace_hopper()):
            flat = ImageEnhance.Contrast(Image.fromarray(portrait)).enhance(contrast)
            analysis = analyse(np.asarray(flat))
            assert "face_covered" not in analysis.image_quality.reasons
            assert COVERED_MOUTH_NOTE not in analysis.summary

    @pytest.mark.parametrize("sigma", (3, 5, 6))
    def test_a_blurred_photo_is_not_taken_for_a_mask_and_a_blurred_mask_still_is(self, sigma):
        # Blur takes more depth from Grace Hopper's thin lips than from her eyes (0.29
        # of theirs at 6 px), and smooths a mask's folds flatter still (0.01-0.05).
        portrait = photos.grace_hopper()
        masked = photos.with_a_mask(
            portrait, MASK_COLOURS["peach"], top=0.58, face=photos.GRACE_HOPPER_FACE
        )
        blurred = analyse(cv2.GaussianBlur(portrait, (0, 0), sigma))
        assert "blurry" in blurred.image_quality.reasons
        assert "face_covered" not in blurred.image_quality.reasons
        assert_not_scored_as_covered(analyse(cv2.GaussianBlur(masked, (0, 0), sigma)))
