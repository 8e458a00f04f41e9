"""Real photographs for the analysis tests and bench/analysis_eval.py, and controlled edits.

    portrait = large_portrait()          # RGB uint8: the sample face about 1,100 px wide
    photo = encode(with_fine_lines(portrait))

The photographs ship inside scikit-image (``skimage.data``): a portrait (NASA's
astronaut Eileen Collins, public domain) and several photos of no face; a second
portrait, Grace Hopper (a US Navy photograph, public domain), is in tests/data. Edits are
placed by fixed fractions of where the face lies in the portrait, never by the
analyser's own landmarks, so a test of the analyser does not lean on the analyser.
"""

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from skimage import data

# The portrait's face in the 512 px original (x, y, width, height), and the part of the
# photo cut around it for the large portrait.
FACE_BOX = (178, 67, 92, 92)
LARGE_CROP = (124, 20, 200, 200)  # x, y, width, height
LARGE_SIDE_PX = 2400
PHONE_SIZE_PX = (3024, 4032)  # width, height
# A face's box in a photo: x, y, width, height (px).
FaceBox = tuple[float, float, float, float]
# Photos of no face, each with its scikit-image name.
NON_FACE_NAMES = ("coffee", "chelsea", "rocket", "brick", "gravel", "grass", "coins", "moon")


GRACE_HOPPER = Path(__file__).resolve().parent / "data" / "grace_hopper.jpg"
# Where Grace Hopper's eyes lie in her 512 x 600 portrait (centre x, centre y,
# half-width, half-height, px), behind her glasses.
GRACE_HOPPER_EYES = ((219, 193, 20, 6), (310, 188, 20, 6))
# Her face in it (x, y, width, height): from below her cap to below her chin.
GRACE_HOPPER_FACE = (165, 150, 200, 185)


def astronaut() -> np.ndarray:
    return data.astronaut()


def grace_hopper() -> np.ndarray:
    """A second real portrait (512 x 600): an older face, narrow eyes behind amber
    glasses, a blue backdrop and a white shirt (which shows its white balance neutral)."""
    return cv2.cvtColor(cv2.imread(str(GRACE_HOPPER)), cv2.COLOR_BGR2RGB)


def long_side(picture: np.ndarray, long_side_px: int) -> np.ndarray:
    """The picture resized (bicubic) so that its long side is ``long_side_px``."""
    factor = long_side_px / max(picture.shape[:2])
    size = (round(picture.shape[1] * factor), round(picture.shape[0] * factor))
    return cv2.resize(picture, size, interpolation=cv2.INTER_CUBIC)


def non_face(name: str) -> np.ndarray:
    picture = getattr(data, name)()
    return picture if picture.ndim == 3 else np.dstack([picture] * 3)


def workshop(side: str = "left") -> np.ndarray:
    """scikit-image's stereo pair of a red motorcycle in a workshop, one side's view."""
    left, right, _ = data.stereo_motorcycle()
    return left if side == "left" else right


def large_portrait() -> np.ndarray:
    """The face cut out and enlarged: about 1,100 px wide in a 2,400 px square.

    Enlarging adds no pores or lines; the detail edits below add them.
    """
    x, y, width, height = LARGE_CROP
    part = data.astronaut()[y : y + height, x : x + width]
    return cv2.resize(part, (LARGE_SIDE_PX, LARGE_SIDE_PX), interpolation=cv2.INTER_CUBIC)


def phone_portrait() -> np.ndarray:
    """The portrait at a phone's 12 megapixels (3024 x 4032): as much work as a phone's
    photo for the decoders and encoders, with the same face."""
    return cv2.resize(data.astronaut(), PHONE_SIZE_PX, interpolation=cv2.INTER_CUBIC)


def phone_jpeg() -> bytes:
    """``phone_portrait`` as a phone saves it: a JPEG at quality 90, about 2 MB."""
    return encode(phone_portrait(), quality=90)


def face_box(picture: np.ndarray) -> tuple[float, float, float, float]:
    """Where the face lies in the 512 px portrait (or it resized), in the large one, or
    in the phone portrait (3024 x 4032: stretched more downwards than across)."""
    x, y, width, height = FACE_BOX
    if picture.shape[0] == LARGE_SIDE_PX:
        scale = LARGE_SIDE_PX / LARGE_CROP[2]
        return (
            (x - LARGE_CROP[0]) * scale,
            (y - LARGE_CROP[1]) * scale,
            width * scale,
            height * scale,
        )
    x_scale = picture.shape[1] / 512
    y_scale = picture.shape[0] / 512 if picture.shape[1::-1] == PHONE_SIZE_PX else x_scale
    return x * x_scale, y * y_scale, width * x_scale, height * y_scale


def at_least(picture: np.ndarray, short_side_px: int) -> np.ndarray:
    """The picture enlarged, if need be, to ``short_side_px`` on its short side."""
    factor = short_side_px / min(picture.shape[:2])
    if factor <= 1:
        return picture
    size = (round(picture.shape[1] * factor), round(picture.shape[0] * factor))
    return cv2.resize(picture, size, interpolation=cv2.INTER_CUBIC)


def encode(picture: np.ndarray, quality: int = 92) -> bytes:
    ok, jpeg = cv2.imencode(
        ".jpg", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return jpeg.tobytes()


# PNG colour types by channel count: grey, grey and alpha, RGB, RGB and alpha.
PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}


def png(pixels: np.ndarray) -> bytes:
    """A PNG of ``pixels`` (rows x columns, or x 1-4 channels; ``uint8`` or ``uint16``)
    at their own bit depth, written here, not by Pillow: Pillow cannot write every
    layout a camera or an editor can (16-bit grey with alpha, 48- and 64-bit colour)."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    height, width, channels = pixels.shape
    depth = 16 if pixels.dtype == np.uint16 else 8
    rows = pixels.astype(">u2" if depth == 16 else np.uint8).reshape(height, -1).view(np.uint8)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + checksum

    header = struct.pack(">IIBBBBB", width, height, depth, PNG_COLOUR_TYPES[channels], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _part(
    picture: np.ndarray, fractions: tuple[float, float, float, float], face: FaceBox | None = None
) -> tuple[slice, slice]:
    x, y, width, height = face if face is not None else face_box(picture)
    left, top, right, bottom = fractions
    return (
        slice(round(y + top * height), round(y + bottom * height)),
        slice(round(x + left * width), round(x + right * width)),
    )


# Where the edits go, as fractions (left, top, right, bottom) of the face box.
CHEEKS = ((0.14, 0.55, 0.32, 0.72), (0.68, 0.55, 0.86, 0.72))
NOSE = (0.43, 0.45, 0.57, 0.62)
FOREHEAD = (0.30, 0.02, 0.70, 0.18)
UNDER_EYES = ((0.16, 0.47, 0.40, 0.55), (0.60, 0.47, 0.84, 0.55))
# Grace Hopper's cheeks, as fractions of GRACE_HOPPER_FACE: the box runs from her cap to
# below her chin, so they lie higher in it than the astronaut's (just under her glasses).
GRACE_HOPPER_CHEEKS = ((0.12, 0.36, 0.34, 0.54), (0.64, 0.36, 0.88, 0.54))


def _skin(pixels: np.ndarray) -> np.ndarray:
    red, green, blue = (pixels[..., channel] for channel in range(3))
    return (red > 95) & (red > green) & (green > blue) & (red - blue > 15)


def _eyes(picture: np.ndarray) -> np.ndarray:
    """The eyes and their lids (EYES widened), which the skin edits leave alone: the rough
    skin rule takes the whites of the eyes for skin, and the analyser reads the light's
    colour from them."""
    x, y, width, height = face_box(picture)
    eyes = np.zeros(picture.shape[:2], np.uint8)
    for cx, cy, half_w, half_h in EYES:
        centre = (round(x + cx * width), round(y + cy * height))
        axes = (round(1.5 * half_w * width), round(2 * half_h * height))
        cv2.ellipse(eyes, centre, axes, 0, 0, 360, 1, -1)
    return eyes > 0


def redder(picture: np.ndarray) -> np.ndarray:
    """Redder skin (red up 15 %, green and blue down 3 %), the eyes as they were."""
    pixels = picture.astype(np.float32)
    pixels[_skin(pixels) & ~_eyes(picture)] *= (1.15, 0.97, 0.97)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def with_dots(
    picture: np.ndarray,
    colour: tuple[int, int, int],
    count: int = 24,
    *,
    size: float = 1.0,
    face: FaceBox | None = None,
    cheeks: tuple[tuple[float, float, float, float], ...] = CHEEKS,
) -> np.ndarray:
    """Small soft dots on the cheeks: red blemishes or dark spots, ``size`` times the
    usual (a fiftieth of the face's width across). ``face`` and ``cheeks`` place them on
    another portrait (Grace Hopper's: GRACE_HOPPER_FACE, GRACE_HOPPER_CHEEKS)."""
    rng = np.random.default_rng(11)
    pixels = picture.astype(np.float32)
    width = (face if face is not None else face_box(picture))[2]
    radius = width * 0.017 * size
    for _ in range(count):
        rows, cols = _part(picture, cheeks[rng.integers(2)], face)
        centre = (rng.uniform(cols.start, cols.stop), rng.uniform(rows.start, rows.stop))
        _soft_disc(pixels, centre, radius, np.array(colour, dtype=np.float32), 0.8)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def flushed(
    picture: np.ndarray,
    strength: float,
    *,
    face: FaceBox | None = None,
    cheeks: tuple[tuple[float, float, float, float], ...] = CHEEKS,
) -> np.ndarray:
    """A diffuse red flush on both cheeks (a blush, rosacea, the cold): red up by a
    quarter of ``strength``, green and blue down by 0.15 and 0.12 of it at each cheek's
    centre, fading over about a quarter of the face's width."""
    x, y, width, height = face if face is not None else face_box(picture)
    rows, cols = np.mgrid[0 : picture.shape[0], 0 : picture.shape[1]].astype(np.float32)
    pixels = picture.astype(np.float32)
    for left, top, right, bottom in cheeks:
        centre_x, centre_y = x + (left + right) / 2 * width, y + (top + bottom) / 2 * height
        weight = strength * np.exp(
            -(((cols - centre_x) / (0.13 * width)) ** 2 + ((rows - centre_y) / (0.1 * height)) ** 2)
        )
        pixels *= np.stack([1 + 0.25 * weight, 1 - 0.15 * weight, 1 - 0.12 * weight], axis=-1)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def with_dark_under_eyes(picture: np.ndarray, darkening: float = 0.78) -> np.ndarray:
    pixels = picture.astype(np.float32)
    for fractions in UNDER_EYES:
        rows, cols = _part(picture, fractions)
        height, width = rows.stop - rows.start, cols.stop - cols.start
        yy, xx = np.mgrid[0:height, 0:width]
        weight = np.exp(
            -(((xx - width / 2) / (width / 2.2)) ** 2 + ((yy - height / 2) / (height / 1.5)) ** 2)
        )
        pixels[rows, cols] *= 1 - (1 - darkening) * weight[..., None]
    return np.clip(pixels, 0, 255).astype(np.uint8)


def with_fine_lines(picture: np.ndarray, count: int = 7, depth: float = 0.18) -> np.ndarray:
    """Thin, slightly wavy darker lines across the forehead, a few pixels wide."""
    pixels = picture.astype(np.float32)
    rows, cols = _part(picture, FOREHEAD)
    width = face_box(picture)[2]
    shade = np.zeros(picture.shape[:2], dtype=np.float32)
    thickness = max(1, round(width * 0.004))
    for index in range(count):
        y = rows.start + (index + 0.5) * (rows.stop - rows.start) / count
        xs = np.linspace(cols.start, cols.stop, 40)
        ys = y + np.sin(xs / width * 9 + index) * width * 0.006
        points = np.round(np.column_stack([xs, ys]) * 16).astype(np.int32)
        cv2.polylines(shade, [points], False, 1.0, thickness, cv2.LINE_AA, shift=4)
    shade = cv2.GaussianBlur(shade, (0, 0), max(0.6, width * 0.0015))
    pixels *= 1 - depth * np.clip(shade, 0, 1)[..., None]
    return np.clip(pixels, 0, 255).astype(np.uint8)


def with_a_fringe(
    picture: np.ndarray,
    strands: int = 40,
    colour: tuple[int, int, int] = (60, 40, 30),
    seed: int = 1,
) -> np.ndarray:
    """Locks of hair (``colour``, RGB) falling from the hairline across the forehead, each
    a wavy line about as thick as a fine line is long."""
    rng = np.random.default_rng(seed)
    painted = picture.copy()
    x, y, width, height = face_box(picture)
    thickness = max(1, round(width / 120))
    for _ in range(strands):
        start = x + rng.uniform(0.15, 0.85) * width
        points = [
            (
                start + rng.normal(0.0, 0.02) * width * step,
                y + (step * rng.uniform(0.05, 0.07) - 0.05) * height,
            )
            for step in range(5)
        ]
        cv2.polylines(painted, [np.array(points, np.int32)], False, colour, thickness, cv2.LINE_AA)
    return painted


def with_pores(picture: np.ndarray, density: float = 0.004, depth: float = 0.25) -> np.ndarray:
    """Pore-sized dark pits scattered over the cheeks and nose."""
    rng = np.random.default_rng(5)
    pixels = picture.astype(np.float32)
    width = face_box(picture)[2]
    radius = max(1.0, width * 0.0018)
    pits = np.zeros(picture.shape[:2], dtype=np.float32)
    for fractions in (*CHEEKS, NOSE):
        rows, cols = _part(picture, fractions)
        count = int((rows.stop - rows.start) * (cols.stop - cols.start) * density)
        ys = rng.integers(rows.start, rows.stop, count)
        xs = rng.integers(cols.start, cols.stop, count)
        pits[ys, xs] = 1.0
    pits = cv2.GaussianBlur(pits, (0, 0), radius) * (2 * np.pi * radius**2)
    pixels *= 1 - depth * np.clip(pits, 0, 1)[..., None]
    return np.clip(pixels, 0, 255).astype(np.uint8)


# Where the eyes lie (centre x, centre y, half-width, half-height), fractions of the face box.
EYES = ((0.30, 0.36, 0.11, 0.05), (0.70, 0.36, 0.11, 0.05))


def with_closed_eyes(picture: np.ndarray) -> np.ndarray:
    """Each eye painted over with the skin below it and a dark lash line across: a
    closed lid, as far as paint can make one."""
    painted = picture.copy()
    x, y, width, height = face_box(picture)
    skin = picture[round(y + 0.6 * height), round(x + 0.25 * width)].tolist()
    lash = max(1, round(width * 0.012))
    for cx, cy, half_w, half_h in EYES:
        centre = (round(x + cx * width), round(y + cy * height))
        axes = (round(half_w * width), round(half_h * height))
        cv2.ellipse(painted, centre, axes, 0, 0, 360, skin, -1)
        ends = ((centre[0] - axes[0], centre[1]), (centre[0] + axes[0], centre[1]))
        cv2.line(painted, *ends, (60, 40, 30), lash)
    return painted


def eyes_of(picture: np.ndarray) -> tuple[tuple[float, float, float, float], ...]:
    """The portrait's eyes (centre x, centre y, half-width, half-height, px)."""
    x, y, width, height = face_box(picture)
    return tuple(
        (x + cx * width, y + cy * height, half_w * width, half_h * height)
        for cx, cy, half_w, half_h in EYES
    )


def with_sunglasses(
    picture: np.ndarray, eyes: tuple[tuple[float, float, float, float], ...] | None = None
) -> np.ndarray:
    """Dark lenses painted over ``eyes`` (the portrait's by default)."""
    painted = picture.copy()
    for cx, cy, half_w, half_h in eyes or eyes_of(picture):
        centre = (round(cx), round(cy))
        axes = (round(1.2 * half_w), round(1.6 * half_h))
        cv2.ellipse(painted, centre, axes, 0, 0, 360, (20, 20, 25), -1)
    return painted


def with_glasses_frames(
    picture: np.ndarray,
    eyes: tuple[tuple[float, float, float, float], ...] | None = None,
    *,
    rim_share: float = 0.5,
) -> np.ndarray:
    """Glasses over ``eyes`` (the portrait's by default): clear lenses in dark rims
    ``rim_share`` of an eye's half-width thick, whose lower part crosses the skin under
    each eye, as most frames' do."""
    painted = picture.copy()
    for side, (cx, cy, half_w, half_h) in enumerate(eyes or eyes_of(picture)):
        towards_nose = 0.08 * half_w if side == 0 else -0.08 * half_w
        centre = (round(cx + towards_nose), round(cy + 0.5 * half_h))
        axes = (round(1.55 * half_w), round(2.4 * half_h))
        rim = max(1, round(rim_share * half_w))
        cv2.ellipse(painted, centre, axes, 0, 0, 360, (20, 18, 18), rim)
    return painted


def with_a_hand_over_the_eyes(
    picture: np.ndarray, eyes: tuple[tuple[float, float, float, float], ...] | None = None
) -> np.ndarray:
    """A band of the skin's colour across both ``eyes`` (the portrait's by default),
    shaded in stripes a finger wide: a hand held over the eyes."""
    (right_x, right_y, half_w, half_h), (left_x, left_y, _, _) = eyes or eyes_of(picture)
    skin = picture[round(right_y + 6 * half_h), round(right_x)].astype(np.float32)
    columns = np.arange(picture.shape[1], dtype=np.float32)
    fingers = 0.85 + 0.15 * np.sin(columns / (0.6 * half_w))
    rows = slice(round(min(right_y, left_y) - 3 * half_h), round(max(right_y, left_y) + 3 * half_h))
    cols = slice(round(right_x - 2 * half_w), round(left_x + 2 * half_w))
    painted = picture.astype(np.float32)
    painted[rows, cols] = skin * fingers[cols, None]
    return np.clip(painted, 0, 255).astype(np.uint8)


# Cloth colours for ``with_a_mask``: skin-like ones, which the skin model takes for skin,
# and others.
MASK_COLOURS = {
    "pink": (230, 170, 180),
    "light pink": (245, 210, 215),
    "red": (190, 40, 50),
    "peach": (240, 200, 170),
    "beige": (215, 180, 155),
    "tan": (190, 150, 120),
    "brown": (110, 75, 55),
    "blue": (150, 190, 220),
    "navy": (40, 50, 90),
    "green": (90, 140, 100),
    "white": (235, 235, 235),
    "black": (30, 30, 35),
}


def with_a_mask(
    picture: np.ndarray,
    colour: tuple[int, int, int],
    *,
    top: float = 0.7,
    face: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """A cloth mask of ``colour`` over the lower face, in horizontal folds and shaded
    towards its sides: from ``top`` (a share of the face box's height: 0.58 over the
    nose, 0.7 from its tip) to below the chin, rounded below. ``face`` is the face box
    (x, y, width, height; the portrait's by default)."""
    x, y, width, height = face or face_box(picture)
    centre_x, upper = x + 0.5 * width, y + top * height
    angles = np.linspace(0, np.pi, 48)
    outline = np.column_stack(
        (centre_x + 0.47 * width * np.cos(angles), upper + (1.08 - top) * height * np.sin(angles))
    )
    outline = np.vstack((outline, [(x + 0.03 * width, upper), (centre_x, upper - 0.04 * height)]))
    covered = np.zeros(picture.shape[:2], np.uint8)
    cv2.fillPoly(covered, [np.round(outline * 16).astype(np.int32)], 1, cv2.LINE_AA, 4)
    rows = np.arange(picture.shape[0], dtype=np.float32)[:, None]
    columns = np.arange(picture.shape[1], dtype=np.float32)[None, :]
    folds = 0.9 + 0.1 * np.sin(rows / (0.035 * height) * np.pi)
    sides = np.clip(1 - 0.25 * ((columns - centre_x) / (0.5 * width)) ** 2, 0.6, 1)
    cloth = np.array(colour, np.float32) * (folds * sides)[..., None]
    painted = picture.astype(np.float32)
    painted[covered > 0] = cloth[covered > 0]
    return np.clip(painted, 0, 255).astype(np.uint8)


def with_a_hand_over_the_mouth(picture: np.ndarray) -> np.ndarray:
    """A band of the skin's colour over the portrait's mouth and chin, shaded in
    stripes a finger wide across it: a hand held over the mouth."""
    x, y, width, height = face_box(picture)
    skin = picture[round(y + 0.6 * height), round(x + 0.25 * width)].astype(np.float32)
    rows = np.arange(picture.shape[0], dtype=np.float32)
    fingers = 0.85 + 0.15 * np.sin(rows / (0.04 * height) * np.pi)
    painted = picture.astype(np.float32)
    band_rows, band_cols = _part(picture, (0.12, 0.7, 0.88, 1.02))
    painted[band_rows, band_cols] = skin * fingers[band_rows, None, None]
    return np.clip(painted, 0, 255).astype(np.uint8)


def rotated(picture: np.ndarray, degrees: float) -> np.ndarray:
    height, width = picture.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(picture, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def exposed(picture: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(picture.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def grainy(picture: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian noise of ``sigma`` grey levels on every pixel: a phone's sensor in a dim
    room (a fixed seed, so the same photo every time)."""
    noise = np.random.default_rng(3).normal(0.0, sigma, picture.shape)
    return np.clip(picture + noise, 0, 255).astype(np.uint8)


def on_a_screen(picture: np.ndarray, pitch_px: int = 3) -> np.ndarray:
    """The picture shown on a screen and photographed: twice as large, every
    ``pitch_px``-th row and column of the pixel grid dark, a glare in its upper right."""
    pixels = cv2.resize(picture, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    pixels = pixels.astype(np.float32)
    pixels[::pitch_px] *= 0.45
    pixels[:, ::pitch_px] *= 0.45
    height, width = pixels.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width]
    glare = 120 * np.exp(
        -(((xx - 0.7 * width) / (0.2 * width)) ** 2 + ((yy - 0.3 * height) / (0.25 * height)) ** 2)
    )
    return np.clip(pixels + glare[..., None], 0, 255).astype(np.uint8)


def screen_at_phone_size(
    picture: np.ndarray, *, long_side_px: int, pitch_px: float, degrees: float = 0.0
) -> np.ndarray:
    """The picture shown on a screen and photographed by a phone: ``long_side_px`` long,
    a dark line (a camera pixel wide, 55 % dark) every ``pitch_px`` along rows and
    columns (the screen's pixel grid; the pitch need not be whole, it is drawn at 4
    times the size and averaged down), turned by ``degrees``."""
    base = long_side(picture, long_side_px)
    height, width = base.shape[:2]
    fine = 4
    rows = np.mod(np.arange(height * fine) / fine, pitch_px) < 1.0
    cols = np.mod(np.arange(width * fine) / fine, pitch_px) < 1.0
    lines = (rows[:, None] | cols[None, :]).astype(np.float32)
    lines = cv2.resize(lines, (width, height), interpolation=cv2.INTER_AREA)
    pixels = np.clip(base * (1 - 0.55 * lines[..., None]), 0, 255).astype(np.uint8)
    return rotated(pixels, degrees) if degrees else pixels


def sharpened(picture: np.ndarray, amount: float, sigma: float = 1.5) -> np.ndarray:
    """An unsharp mask, as phones apply to every photo."""
    pixels = picture.astype(np.float32)
    blurred = cv2.GaussianBlur(pixels, (0, 0), sigma)
    return np.clip(pixels + amount * (pixels - blurred), 0, 255).astype(np.uint8)


def colour_cast(picture: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    """Each of R, G and B multiplied by its gain: a lamp's colour or a white balance off
    (warm: red up, blue down; a green or magenta tint: green up or down)."""
    return np.clip(picture.astype(np.float32) * np.array(gains, np.float32), 0, 255).astype(
        np.uint8
    )


def before_a_wall(picture: np.ndarray, shade: float = 1.0) -> np.ndarray:
    """The face before a plain wall of its own skin's colour (times ``shade``): all but an
    ellipse around the face painted over, hair and shoulders too."""
    x, y, width, height = face_box(picture)
    head = np.zeros(picture.shape[:2], np.uint8)
    centre = (round(x + width / 2), round(y + 0.55 * height))
    cv2.ellipse(head, centre, (round(0.5 * width), round(0.62 * height)), 0, 0, 360, 1, -1)
    rows, cols = _part(picture, CHEEKS[0])
    wall = np.median(picture[rows, cols].reshape(-1, 3), axis=0) * shade
    painted = picture.copy()
    painted[head == 0] = np.clip(wall, 0, 255).astype(np.uint8)
    return painted


def head_mask(picture: np.ndarray, face: FaceBox | None = None) -> np.ndarray:
    """Where the head is (H x W x 1, 0 to 1, its edge softened by 3 px): an ellipse half
    again as large as the face box (``face``, or the sample portrait's), hair included."""
    x, y, width, height = face if face is not None else face_box(picture)
    head = np.zeros(picture.shape[:2], np.float32)
    centre = (round(x + width / 2), round(y + height / 2))
    cv2.ellipse(head, centre, (round(0.75 * width), round(0.8 * height)), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(head, (0, 0), 3)[..., None]


def _head_and_rest(
    picture: np.ndarray, head: np.ndarray, rest: np.ndarray, face: FaceBox | None
) -> np.ndarray:
    mask = head_mask(picture, face)
    mixed = head.astype(np.float32) * mask + rest.astype(np.float32) * (1 - mask)
    return np.clip(mixed, 0, 255).astype(np.uint8)


def in_portrait_mode(picture: np.ndarray, sigma: float, face: FaceBox | None = None) -> np.ndarray:
    """All but the head blurred by ``sigma`` px, as a phone's portrait mode does."""
    return _head_and_rest(picture, picture, cv2.GaussianBlur(picture, (0, 0), sigma), face)


def with_the_head_blurred(
    picture: np.ndarray, sigma: float, face: FaceBox | None = None
) -> np.ndarray:
    """The head blurred by ``sigma`` px (out of focus, or moving), the room behind sharp."""
    return _head_and_rest(picture, cv2.GaussianBlur(picture, (0, 0), sigma), picture, face)


def with_the_head_shaken(
    picture: np.ndarray, length_px: int, face: FaceBox | None = None
) -> np.ndarray:
    """The head blurred across by a motion of ``length_px``, the room behind sharp."""
    kernel = np.full((1, length_px), 1 / length_px, np.float32)
    return _head_and_rest(picture, cv2.filter2D(picture, -1, kernel), picture, face)


def before_a_backdrop(picture: np.ndarray, grey: int, face: FaceBox | None = None) -> np.ndarray:
    """The head before a plain backdrop of grey level ``grey``: a white wall, a black cloth."""
    return _head_and_rest(picture, picture, np.full_like(picture, grey), face)


def backlit(picture: np.ndarray, light: float, face: FaceBox | None = None) -> np.ndarray:
    """The head with ``light`` of its light and all else half again as bright: a face
    in its own shadow before a window."""
    pixels = picture.astype(np.float32)
    return _head_and_rest(picture, pixels * light, np.minimum(pixels * 1.5, 255), face)


def toned(picture: np.ndarray, tint: tuple[float, float, float]) -> np.ndarray:
    """The picture in black and white with R, G and B multiplied by ``tint`` (brightened a
    fifth, as filters do): sepia (1.07, 0.74, 0.43) and the other toning filters of phone
    cameras and editors, or an old print."""
    grey = cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY).astype(np.float32)[..., None]
    return np.clip(grey * np.array(tint, np.float32) * 1.2, 0, 255).astype(np.uint8)


def faded(picture: np.ndarray, colour_left: float) -> np.ndarray:
    """The picture with ``colour_left`` of its colour, mixed with its own black and white
    (0: black and white; 1: as it is): a "fade" or "muted" filter."""
    grey = cv2.cvtColor(cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    mixed = colour_left * picture.astype(np.float32) + (1 - colour_left) * grey
    return np.clip(mixed, 0, 255).astype(np.uint8)


# A statue's material: a gain on the grey level per channel (R, G, B) and an offset.
STATUE_MATERIALS = {
    "bronze": ((0.9, 0.6, 0.35), (10, 10, 10)),
    "clay": ((1.0, 0.68, 0.5), (30, 15, 5)),
}


def as_a_statue(picture: np.ndarray, material: str) -> np.ndarray:
    """The portrait as a statue of ``material`` (STATUE_MATERIALS) photographed: its
    shading and features kept, smoothed a little, in the material's one colour, enlarged
    to a 960 px short side as a phone's photo would be."""
    grey = cv2.bilateralFilter(
        cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY).astype(np.float32), 9, 40, 5
    )
    gains, offset = STATUE_MATERIALS[material]
    statue = grey[..., None] * np.array(gains, np.float32) + np.array(offset, np.float32)
    return at_least(np.clip(statue, 0, 255).astype(np.uint8), 960)


def painted_ball(colour: tuple[int, int, int] = (230, 180, 150), size_px: int = 1200) -> np.ndarray:
    """A ball of ``colour`` (a skin tone, or a pumpkin's orange) with eyes, a nose and a
    smiling mouth painted on, shaded as a sphere, before a blue-grey wall, with a little
    of a camera's grain: a face to the detector, no skin."""
    rows, cols = np.mgrid[0:size_px, 0:size_px].astype(np.float32)
    pixels = np.full((size_px, size_px, 3), (90, 110, 140), np.float32)
    distance = np.hypot(cols - size_px / 2, rows - size_px / 2) / (0.4 * size_px)
    inside = distance < 1
    shade = np.clip(1.05 - 0.35 * distance**2, 0, 1)
    pixels[inside] = np.array(colour, np.float32) * shade[inside][:, None]
    ball = pixels.astype(np.uint8)
    for x in (0.38, 0.62):
        centre = (round(x * size_px), round(0.42 * size_px))
        axes = (round(0.05 * size_px), round(0.03 * size_px))
        cv2.ellipse(ball, centre, axes, 0, 0, 360, (250, 250, 250), -1, cv2.LINE_AA)
        cv2.circle(ball, centre, round(0.022 * size_px), (40, 30, 25), -1, cv2.LINE_AA)
    mouth = (size_px // 2, round(0.64 * size_px))
    cv2.ellipse(ball, mouth, (round(0.12 * size_px), round(0.04 * size_px)), 0, 0, 180,
                (150, 60, 60), round(0.02 * size_px), cv2.LINE_AA)  # fmt: skip
    nose = (size_px // 2, round(0.53 * size_px))
    cv2.ellipse(ball, nose, (round(0.03 * size_px), round(0.02 * size_px)), 0, 0, 360,
                (180, 120, 100), -1, cv2.LINE_AA)  # fmt: skip
    grain = cv2.GaussianBlur(np.random.default_rng(3).normal(0, 1, (size_px, size_px)), (0, 0), 0.8)
    grain = (grain / grain.std()).astype(np.float32)
    return np.clip(ball * (1 + 0.02 * grain)[..., None], 0, 255).astype(np.uint8)


def under_a_lamp(
    picture: np.ndarray, gains: tuple[float, float, float], exposure: float = 1.0
) -> np.ndarray:
    """The picture taken under a lamp of another colour, ``exposure`` times the light:
    the gains and the exposure act on the light (linear RGB), as they do on a camera's
    sensor, and the result is clipped and encoded to sRGB again."""
    return _relit(picture, np.array(gains, np.float32) * exposure)


def lit_from_one_side(picture: np.ndarray, shadow: float, *, from_left: bool = True) -> np.ndarray:
    """The picture lit from one side (a window beside the face): the light falls across
    the face from all of it on the lit side (the photo's left, or right) to ``shadow`` of
    it on the other, evenly in stops."""
    x, _, width, _ = face_box(picture)
    across = np.clip((np.arange(picture.shape[1], dtype=np.float32) - x) / width, 0.0, 1.0)
    gain = np.exp(np.log(shadow) * (across if from_left else 1.0 - across))
    return _relit(picture, gain[None, :, None])


def under_a_brim(
    picture: np.ndarray, light: float, edge_at: float, face: FaceBox | None = None
) -> np.ndarray:
    """The picture under a cap's brim: ``light`` of the light above a horizontal edge
    ``edge_at`` of the way down the face box (``face``, or the sample portrait's), all of
    it below, the edge softened over about a twentieth of the face's height."""
    _, y, _, height = face if face is not None else face_box(picture)
    rows = np.arange(picture.shape[0], dtype=np.float32)
    below = 1.0 / (1.0 + np.exp(-(rows - (y + edge_at * height)) / (0.04 * height)))
    return _relit(picture, (light + (1.0 - light) * below)[:, None, None])


def _relit(picture: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """The picture with its light (linear RGB, as a camera's sensor takes it) times
    ``gain``, clipped and encoded to sRGB again."""
    x = picture.astype(np.float32) / 255.0
    light = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    light = np.clip(light * gain, 0.0, 1.0)
    srgb = np.where(light <= 0.0031308, light * 12.92, 1.055 * light ** (1 / 2.4) - 0.055)
    return (srgb * 255.0 + 0.5).astype(np.uint8)


def skin_toned(picture: np.ndarray, lightness_factor: float) -> np.ndarray:
    """The same face with darker (factor under 1) or lighter skin: the skin's CIELAB L*
    scaled, its a* and b* (its hue) kept, the eyes as they were."""
    skin = _skin(picture.astype(np.float32)) & ~_eyes(picture)
    lab = cv2.cvtColor(picture, cv2.COLOR_RGB2Lab).astype(np.float32)
    lab[..., 0][skin] *= lightness_factor
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_Lab2RGB)


def cropped(picture: np.ndarray, fraction: float) -> np.ndarray:
    """``fraction`` of the width and height cut off the top-left corner."""
    height, width = picture.shape[:2]
    return picture[round(height * fraction) :, round(width * fraction) :]


def cut(
    picture: np.ndarray,
    *,
    left: int = 0,
    top: int = 0,
    right: int | None = None,
    bottom: int | None = None,
) -> np.ndarray:
    """The part of the picture between those columns and rows, enlarged so that its short
    side is 600 px (an upload's least is 480): a photo framed tighter, or cut by the edge."""
    return at_least(np.ascontiguousarray(picture[top:bottom, left:right]), 600)


def in_a_scene(
    face_fraction: float, scene: str = "rocket", size: tuple[int, int] = (4000, 3000)
) -> np.ndarray:
    """The large portrait made smaller and set in the middle of another photo (``size``:
    width, height), its face ``face_fraction`` of the long side wide: a photo taken from
    further away than a selfie."""
    width, height = size
    face_width_px = FACE_BOX[2] * LARGE_SIDE_PX / LARGE_CROP[2]
    scale = face_fraction * max(size) / face_width_px
    portrait = cv2.resize(large_portrait(), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    picture = cv2.resize(non_face(scene), size, interpolation=cv2.INTER_CUBIC)
    top, left = (height - portrait.shape[0]) // 2, (width - portrait.shape[1]) // 2
    picture[top : top + portrait.shape[0], left : left + portrait.shape[1]] = portrait
    return picture


# The 512 px portrait framed as a selfie (rows, then columns): the face about 60 % of
# the frame's width.
SELFIE_FRAME = (slice(40, 230), slice(150, 300))


def with_a_second_face(
    share: float = 1.0, edit: Callable[[np.ndarray], np.ndarray] = lambda p: p, scene: str = "grass"
) -> np.ndarray:
    """Two people in one photo: the portrait framed as a selfie and, beside it on the
    right, a second copy ``share`` as large (edited by ``edit``: mirrored, darker,
    turned), its chin on the photo's bottom edge, in front of another photo (``scene``);
    ``share`` 0: the selfie alone in the same frame. Enlarged to 600 px on its short
    side, as ``cut`` does."""
    first = astronaut()[SELFIE_FRAME]
    height, width = first.shape[:2]
    picture = cv2.resize(non_face(scene), (2 * width, height), interpolation=cv2.INTER_AREA)
    picture[:, :width] = first
    if share > 0:
        second = np.ascontiguousarray(edit(first.copy()))
        second = cv2.resize(second, None, fx=share, fy=share, interpolation=cv2.INTER_AREA)
        left = width + (width - second.shape[1]) // 2
        picture[height - second.shape[0] :, left : left + second.shape[1]] = second
    return at_least(picture, 600)


def side_by_side(picture: np.ndarray) -> np.ndarray:
    """Two copies of the picture next to each other: two people of one size in a photo
    twice as wide, each face under a tenth of its width (the 512 px portrait's face)."""
    return np.ascontiguousarray(np.concatenate([picture, picture], axis=1))


def with_a_far_face(share: float | None) -> np.ndarray:
    """The large portrait framed close and, in its top right corner, the same face
    ``share`` as wide (a face far behind, on a poster or a passer-by); ``None``: the
    same frame without it."""
    portrait = large_portrait()
    x, y, width, height = (round(value) for value in face_box(portrait))
    margin = round(0.23 * width)
    frame = (slice(y - margin, y + height + margin), slice(x - margin, x + width + margin))
    picture = portrait[frame].copy()
    if share is not None:
        far = cv2.resize(portrait[frame], None, fx=share, fy=share, interpolation=cv2.INTER_AREA)
        picture[: far.shape[0], -far.shape[1] :] = far
    return picture


def cheek_close_up(picture: np.ndarray) -> np.ndarray:
    """The large portrait's left cheek filling the frame (a close-up of an area)."""
    rows, cols = _part(picture, (0.62, 0.50, 0.90, 0.78))
    return cv2.resize(picture[rows, cols], (800, 800), interpolation=cv2.INTER_CUBIC)


def forehead_close_up(picture: np.ndarray) -> np.ndarray:
    """The large portrait's forehead filling the frame, 800 px wide."""
    rows, cols = _part(picture, FOREHEAD)
    part = picture[rows, cols]
    size = (800, round(part.shape[0] * 800 / part.shape[1]))
    return cv2.resize(part, size, interpolation=cv2.INTER_CUBIC)


def with_strands_of_hair(picture: np.ndarray, count: int, darkening: float = 0.5) -> np.ndarray:
    """Thin dark strands of hair, gently curved, from the top of the frame to its bottom."""
    rng = np.random.default_rng(count)
    height, width = picture.shape[:2]
    shade = np.zeros((height, width), dtype=np.float32)
    for _ in range(count):
        start = rng.uniform(0, width)
        rows = np.linspace(0, height, 30)
        points = np.column_stack([start + width * 0.08 * np.sin(rows / (height * 0.11)), rows])
        cv2.polylines(
            shade, [np.round(points * 16).astype(np.int32)], False, 1.0, 3, cv2.LINE_AA, 4
        )
    shade = np.clip(cv2.GaussianBlur(shade, (0, 0), 0.8), 0, 1)
    return np.clip(picture * (1 - darkening * shade[..., None]), 0, 255).astype(np.uint8)


def between_walls(picture: np.ndarray, share: float, colour: tuple[int, int, int]) -> np.ndarray:
    """The picture with ``share`` of its width at each side a flat wall of ``colour``."""
    framed = picture.copy()
    side = round(picture.shape[1] * share)
    framed[:, :side] = colour
    framed[:, picture.shape[1] - side :] = colour
    return framed


def between_bands(
    picture: np.ndarray,
    share: float,
    top: tuple[int, int, int],
    bottom: tuple[int, int, int],
) -> np.ndarray:
    """The picture with ``share`` of its height at the top a flat band of ``top`` (hair,
    a jaw's shadow) and as much at the bottom of ``bottom`` (a collar)."""
    framed = picture.copy()
    band = round(picture.shape[0] * share)
    framed[:band] = top
    framed[picture.shape[0] - band :] = bottom
    return framed


def _soft_disc(
    pixels: np.ndarray,
    centre: tuple[float, float],
    radius: float,
    colour: np.ndarray,
    strength: float,
) -> None:
    reach = int(4 * radius) + 1
    x, y = round(centre[0]), round(centre[1])
    rows = slice(max(y - reach, 0), min(y + reach + 1, pixels.shape[0]))
    cols = slice(max(x - reach, 0), min(x + reach + 1, pixels.shape[1]))
    yy, xx = np.mgrid[rows, cols]
    weight = strength * np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * radius**2))
    window = pixels[rows, cols]
    window[:] = window * (1 - weight[..., None]) + colour * weight[..., None]


def denoised(picture: np.ndarray, strength: float) -> np.ndarray:
    """The picture through OpenCV's non-local means denoising of ``strength`` (its h): a
    phone camera's noise reduction, strong in dim light, which smooths skin flat."""
    return cv2.fastNlMeansDenoisingColored(
        np.ascontiguousarray(picture), None, strength, strength, 7, 21
    )


def drawn_face(picture: np.ndarray, skin: tuple[int, int, int] = (232, 190, 150)) -> np.ndarray:
    """A face drawn with flat colours where the portrait's face is, on paper of the
    picture's size: an oval of ``skin`` (RGB) with an outline, hair, brows, eyes with their
    whites and irises, a nose's line and lips, the features placed as the portrait's."""
    drawn = np.full_like(picture, 245)
    x, y, width, height = face_box(picture)

    def at(fx: float, fy: float) -> tuple[int, int]:
        return round(x + fx * width), round(y + fy * height)

    def size(fx: float, fy: float) -> tuple[int, int]:
        return max(1, round(fx * width)), max(1, round(fy * height))

    line = max(2, round(width / 60))
    cv2.ellipse(drawn, at(0.5, 0.5), size(0.5, 0.62), 0, 0, 360, skin, -1)
    cv2.ellipse(drawn, at(0.5, 0.5), size(0.5, 0.62), 0, 0, 360, (90, 60, 40), line)
    cv2.ellipse(drawn, at(0.5, 0.0), size(0.55, 0.3), 0, 180, 360, (70, 45, 25), -1)
    for cx, cy, half_w, half_h in EYES:
        cv2.line(drawn, at(cx - half_w, cy - 0.1), at(cx + half_w, cy - 0.11), (80, 55, 35), line)
        cv2.ellipse(drawn, at(cx, cy), size(half_w, half_h), 0, 0, 360, (250, 250, 250), -1)
        cv2.circle(drawn, at(cx, cy), round(0.6 * half_h * height), (60, 45, 30), -1)
    cv2.line(drawn, at(0.5, 0.42), at(0.46, 0.6), (190, 140, 110), line)
    cv2.ellipse(drawn, at(0.5, 0.78), size(0.14, 0.05), 0, 0, 360, (185, 80, 85), -1)
    return drawn
