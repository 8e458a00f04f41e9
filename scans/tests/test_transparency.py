"""A photo with transparency (a selfie cut out of its background by an editing app) is
stored and analysed as it shows, over a neutral backdrop: never with the colours that
happened to be left under its transparent parts."""

import numpy as np
import pytest
from PIL import Image

from scans.images import TRANSPARENCY_BACKDROP, decode
from scans.tests.conftest import encode, face_photo

HIDDEN = (0, 255, 0)  # what an editing app may leave under a cleared background


def cut_out(mode: str) -> tuple[Image.Image, np.ndarray]:
    """The portrait with its left third cleared (fully transparent, hidden green under it)
    and its middle column of 40 pixels half transparent, in ``mode``; and the alpha."""
    portrait = face_photo()
    pixels = np.asarray(portrait).copy()
    width = portrait.width
    alpha = np.full(pixels.shape[:2], 255, np.uint8)
    alpha[:, : width // 3] = 0
    pixels[:, : width // 3] = HIDDEN
    alpha[:, width // 2 - 20 : width // 2 + 20] = 128
    picture = Image.fromarray(np.dstack([pixels, alpha]), "RGBA")
    if mode == "LA":
        picture = picture.convert("LA")
    return picture, alpha


def shown(picture: Image.Image) -> np.ndarray:
    """What ``picture`` looks like over the backdrop, in RGB (the expected pixels)."""
    rgba = np.asarray(picture.convert("RGBA")).astype(np.float64)
    alpha = rgba[..., 3:] / 255
    return rgba[..., :3] * alpha + np.array(TRANSPARENCY_BACKDROP) * (1 - alpha)


@pytest.mark.parametrize(
    ("mode", "image_format", "options", "tolerance"),
    [
        ("RGBA", "PNG", {}, 1),
        ("LA", "PNG", {}, 1),
        ("RGBA", "WEBP", {"lossless": True}, 1),
        # Lossy WebP keeps the alpha exactly and the colours within its compression.
        ("RGBA", "WEBP", {"quality": 95}, 12),
    ],
)
def test_a_cut_out_photo_is_decoded_as_it_shows_over_a_neutral_backdrop(
    mode, image_format, options, tolerance
):
    picture, alpha = cut_out(mode)

    decoded = np.asarray(decode(encode(picture, image_format, **options))).astype(np.float64)

    cleared = alpha == 0
    assert np.abs(decoded[cleared] - TRANSPARENCY_BACKDROP).max() <= 1
    assert not np.any(np.all(np.abs(decoded - HIDDEN) < 40, axis=-1))
    assert np.abs(decoded - shown(picture)).mean() <= tolerance


def test_a_palette_photo_with_a_transparent_colour_shows_the_backdrop_there():
    picture, alpha = cut_out("RGBA")
    palette = picture.convert("RGB").quantize(64)
    # The palette entry of the cleared green becomes the transparent one.
    transparent = palette.getpixel((0, 0))
    palette.info["transparency"] = transparent

    decoded = np.asarray(decode(encode(palette, "PNG", transparency=transparent)))

    assert np.all(decoded[alpha == 0] == TRANSPARENCY_BACKDROP)


def test_an_opaque_photo_with_an_alpha_channel_keeps_every_pixel():
    portrait = face_photo()
    opaque = portrait.convert("RGBA")

    decoded = np.asarray(decode(encode(opaque, "PNG")))

    assert np.array_equal(decoded, np.asarray(decode(encode(portrait, "PNG"))))


@pytest.mark.parametrize("mode", ["RGB", "L", "I;16"])
def test_a_png_with_one_transparent_colour_shows_the_backdrop_there(mode):
    """A PNG may mark one colour (or grey level) transparent instead of holding alpha."""
    portrait = face_photo()
    pixels = np.asarray(portrait).copy()
    pixels[:, : portrait.width // 3] = 0  # the cleared part, in the transparent colour
    pixels[pixels.sum(axis=-1) == 0] = 0
    picture = Image.fromarray(pixels)
    if mode == "RGB":
        clear: int | tuple = (0, 0, 0)
    elif mode == "L":
        picture, clear = picture.convert("L"), 0
    else:
        picture = Image.fromarray(np.asarray(picture.convert("L")).astype(np.uint16) * 257)
        clear = 0

    decoded = np.asarray(decode(encode(picture, "PNG", transparency=clear)))

    assert np.all(decoded[:, : portrait.width // 3] == TRANSPARENCY_BACKDROP)
    assert decoded[:, portrait.width // 2 :].mean() > 20  # the rest of the face is there
