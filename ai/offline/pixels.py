"""Per-pixel skin measures on the analysis canvas: the skin mask and one map per measure.

    maps = measure_pixels(canvas, layout.skin_area, layout.core_area)
    measures = maps.measure(maps.skin & region_mask)  # None when too few skin pixels

Every map is a smooth function of the pixels (soft thresholds, not hard cut-offs), so a
slightly different photo of the same skin moves each measure a little, never a step.
The canvas has a fixed scale (a face is FACE_CANVAS_WIDTH_PX wide), so the sizes below
in pixels are sizes on the face.
"""

from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np

# Skin colour: both rules must hold. YCrCb chroma box after Chai & Ngan (1999), widened
# on Cr so flushed skin stays skin; hue between red and orange in HSV.
# The Cr and saturation ceilings are set above the reddest skin under a warm lamp: the
# skin left outside the mask is its most saturated, its red patches, and the redness
# read from the rest is too low. Grace Hopper's cheeks and nose reach Cr 179-188 and
# saturation 0.80-0.81 (99th percentile) as taken, 186-196 and 0.84-0.86 under a lamp
# of R x1.15, B x0.8, 191-202 and 0.87-0.90 under R x1.3, B x0.65 (linear light, her
# narrow eyes show no white, so no cast is claimed): with ceilings of 185 and 0.72 that
# lamp left 67 % of her face's skin area skin instead of 93 %, and scored redness 81-87
# instead of 40-43 (pigmentation 84-86 instead of 44-56, acne 88-90 instead of 60-66)
# at 80-130 % exposure. With 200 and 0.85 it scores redness 47-51, pigmentation 56-60
# and acne 71-76; the astronaut, reddened twice, reaches 193 and 0.72, and
# scikit-image's non-face photos still show no skin.
SKIN_CR_RANGE = (133, 200)
SKIN_CB_RANGE = (72, 135)
SKIN_HUE_MAX_DEG = 50
SKIN_HUE_WRAP_MIN_DEG = 330
SKIN_SATURATION_RANGE = (0.08, 0.85)
SKIN_VALUE_MIN = 0.20
# The person's own skin colour: median and robust spread over the core (cheeks, nose);
# other pixels must lie within this many spreads (floors stop a flat core being too strict).
CORE_REACH_SPREADS = 3.0
CORE_MIN_SPREAD_L = 4.0
CORE_MIN_SPREAD_B = 2.0
# Measures need this many skin pixels in a region to mean anything.
MIN_MEASURE_PIXELS = 60
# Blur scales (Gaussian sigma, canvas px). Illumination changes over the face's shape,
# more slowly than blotches; spots and blemishes are a few px across.
FINE_SIGMA_PX = 1.0
# JPEG keeps colour at half resolution, so a* detail finer than this is compression noise.
CHROMA_SIGMA_PX = 2.0
SPOT_SIGMAS_PX = (1.5, 3.0)
# A close-up's frame (a cheek, the forehead) is several times finer than the face canvas:
# a blemish or dark spot 2-5 mm across is a blob of 10-40 px, which the face's scales
# alone missed (24 red blemishes on a cheek filling the frame left its acne at 92, as
# clean; 24 dark spots, its pigmentation at 97). Its spots are also looked for at scales
# CLOSE_UP_SPOT_SCALE times wider, where they must stand WIDE_SPOT_DEPTH_RATIO times
# deeper: at those scales the skin's own broad shading and flush are blob-shaped too,
# and read as deep as the fine scales' they took the large portrait's clean cheek,
# darkened to 0.4 of its L*, from acne 92 to 70 (86 at 0.6). With the ratio: 87 and 91,
# as the whole face moves (92 to 85 at 0.5). The cheek with the 24 blemishes then
# measures acne 7 (58 with paler ones, 61 on the whole face with them), with 24 dark
# spots pigmentation 47; dimmed to 0.6 of the light, 10, 64 and 53.
CLOSE_UP_SPOT_SCALE = 4.0
WIDE_SPOT_DEPTH_RATIO = 1.4
TEXTURE_SIGMA_PX = (0.8, 2.0)
# Texture is read only where the band's finer scale spans at least this many of the
# photo's own pixels: a face narrower than the canvas is enlarged onto it (Grace Hopper's
# 183 px face 1.4 times, the astronaut's 92 px one 2.8 times), and the band then lies
# at or under the photo's pixel, where what it reads is where the face fell on the
# camera's grid, JPEG and resampling, not the skin. Shifted by half a pixel, her texture
# went from 29 to 48 (19 points at 183 px, 9 at 276, 4 at 370, 0 at 1,100), rotated by
# 0.5 degrees to 41, resized to 0.9 to 44; the same photo enlarged read 54, 29, 22 and
# 21 at faces of 149-370 px. Widening the band instead reads the face's shading and
# features (the astronaut's smooth skin scored 12 instead of 93), so below that width
# (scores.MIN_TEXTURE_FACE_WIDTH_PX) texture is not scored.
MIN_TEXTURE_SIGMA_PHOTO_PX = 1.0
TONE_SIGMAS_PX = (2.0, 12.0)
# The light a pixel is in: the skin's L* around it, blurred a tenth of the face wide
# (wider than blotches, narrower than light falling off across the face).
LIGHT_SIGMA_PX = 24.0
# The eye checks read the face as if evenly lit: each pixel's L* against the skin-coloured
# pixels' around it, blurred this wide (a fifth of the face: wide enough to keep the eye
# sockets' own shading). With a window beside the face the skin model, taken from both
# cheeks, reached so far below their median that a lit eye's iris passed for skin and
# the open eye for a lid: eyes_hidden, and the photo left out of progress.
EVEN_LIGHT_SIGMA_PX = 48.0
# Tone variation in L* is scaled to skin of this lightness (a typical well-lit face).
REFERENCE_LIGHTNESS = 70.0
# Red patch: a* this many units above the person's own skin baseline (CIELAB units).
RED_PATCH_EXCESS_A = 6.0
RED_PATCH_SOFTNESS_A = 1.5
# Blemish: a small blob whose a* rises this much above its surroundings.
BLEMISH_EXCESS_A = 4.0
BLEMISH_SOFTNESS_A = 1.0
# Dark spot: a small blob this much darker (L*) than around it, and not red (a blemish).
DARK_SPOT_DEPTH_L = 4.5
DARK_SPOT_SOFTNESS_L = 1.0
# Specular highlight: white light added to the skin's colour, so it is at least as
# bright as the person's median skin and has lost at least half its saturation. The
# saturation test carries the weight: unlike brightness, it does not change with the
# exposure, and a highlight is whiter than the skin however bright the photo.
# A tenth brighter than the median skin, not merely as bright: a photo exposed 10 %
# brighter clips its near-highlights white, and at a ratio of 1 those counted as shine
# (the oiliness score moved 7 points with exposure alone).
SHINE_VALUE_RATIO = 1.1
SHINE_VALUE_SOFTNESS = 0.04
SHINE_DESATURATION = 0.50
SHINE_DESATURATION_SOFTNESS = 0.10
SHINE_MIN_VALUE = 0.50
SHINE_MIN_VALUE_SOFTNESS = 0.05
# HSV value from which the brightest channel counts as clipped by the camera.
CLIPPED_VALUE = 0.97
CLIPPED_VALUE_SOFTNESS = 0.02
# Where the red channel clips (an over-exposed photo, a highlight), a* and the hue angle
# no longer say how red the skin is: green and blue still rise with the light, red
# cannot, so the pixel reads less red than it is, the person's a* baseline falls and
# the skin that did not clip reads as red patches. The portrait exposed 30 % brighter
# clips (HSV value from CLIPPED_VALUE) on about half its skin, and its redness fell
# from 96 to 67. What each measure does about it:
# - The skin's own colour (its hue, and the a* baseline of red patches) is read from
#   the darker half of the skin, where it did not clip. More light moves every pixel's
#   lightness the same way, so the darker half is the same skin at every exposure, and
#   the last to clip; all the unclipped skin instead is a sample that shrinks toward
#   the shadows as the light rises (10 % more light moved the baseline by 0.7 a*).
# - Red patches are counted on the unclipped skin; the clipped skin is taken to hold
#   them as often as the brighter half of the unclipped skin does, its nearest in
#   lightness. Left out, or counted as no patch, the clipped skin moved redness by up to
#   18 and 26 points between exposures 10 % apart (portraits with painted blemishes).
# - Blemishes are found after clipped a* is filled in from the unclipped skin around it
#   (a blur of BLEMISH_FILL_SIGMA_PX): as it is, it made every unclipped patch between
#   clipped skin a red blob, and a second real portrait 10 % brighter lost 15-20 points
#   of acne.
# With less than MIN_REFERENCE_PIXELS of unclipped skin in the darker half, redness is
# not read.
MIN_REFERENCE_PIXELS = MIN_MEASURE_PIXELS // 2
BLEMISH_FILL_SIGMA_PX = 6.0
# Spots, texture and tone are trusted from this far inside the skin mask's edge.
EDGE_MARGIN_PX = 4.0
# Spot blobs drawn on the overlay, in canvas px.
SPOT_AREA_RANGE_PX = (3, 150)


@dataclass(frozen=True)
class Measures:
    """Raw measures over one mask (CIELAB units, percentages of the mask's pixels)."""

    pixels: int
    lightness: float  # median L*
    # CIELAB hue angle of the median skin colour (lower is redder) and the pixels well
    # above the person's own a* baseline, over the skin whose colour did not clip;
    # None when too little of it did not.
    hue_deg: float | None
    red_patch_pct: float | None
    shine_pct: float  # specular highlights
    unevenness: float  # robust spread of mid-scale L* and b* variation (at L* 70)
    dark_spot_pct: float
    blemish_pct: float
    texture_pct: float  # mean fine-scale contrast relative to the local lightness


@dataclass(frozen=True)
class Spot:
    x: float
    y: float
    radius: float
    kind: str  # "dark" (a dark spot) or "red" (a blemish)


@dataclass(frozen=True)
class PixelMaps:
    """One canvas-sized array per measure, the masks they are read through, and the
    largest area a spot drawn may have (canvas px)."""

    skin: np.ndarray  # bool: skin-coloured pixels inside the measured area
    interior: np.ndarray  # 0-1: distance from the skin mask's edge, 1 from EDGE_MARGIN_PX in
    skin_colour: np.ndarray  # bool: skin-coloured pixels anywhere on the canvas
    # The same, and L*, as if the face were evenly lit (a window beside it lights one
    # side more): what the eye checks read.
    even_skin_colour: np.ndarray
    even_lightness: np.ndarray
    lightness: np.ndarray  # L* (0-100)
    red_excess: np.ndarray  # a* minus the person's baseline a*
    red_patch: np.ndarray  # 0-1
    colour_clipped: np.ndarray  # bool: the brightest channel clipped, a* unreadable
    specular: np.ndarray  # 0-1
    blemish: np.ndarray  # 0-1
    dark_spot: np.ndarray  # 0-1
    texture: np.ndarray  # relative fine-scale contrast, %
    tone_l: np.ndarray
    tone_b: np.ndarray
    a_star: np.ndarray
    b_star: np.ndarray
    largest_spot_area_px: float = SPOT_AREA_RANGE_PX[1]

    def measure(self, mask: np.ndarray) -> Measures | None:
        pixels = int(mask.sum())
        if pixels < MIN_MEASURE_PIXELS:
            return None
        reference = _colour_reference(mask, self.lightness, self.colour_clipped)
        hue_deg = red_patch_pct = None
        if reference is not None:
            a_median = float(np.median(self.a_star[reference]))
            b_median = float(np.median(self.b_star[reference]))
            hue_deg = float(np.degrees(np.arctan2(b_median, a_median)))
            red_patch_pct = self._red_patch_percent(mask)
        # Texture and tone are read away from the mask's edge, where hair, brows and the
        # face's outline add detail that is not the skin's; a slightly different face box
        # moves that edge, so leaving it out keeps the measures steady.
        interior = mask & (self.interior >= 1.0)
        if interior.sum() < MIN_MEASURE_PIXELS:
            interior = mask
        lightness = float(np.median(self.lightness[mask]))
        # Variation is read as at REFERENCE_LIGHTNESS: the same blotches photographed
        # darker have smaller L* and b* differences, in proportion to L* + 16. Read as
        # they were (L* against L*, b* not scaled), Grace Hopper's pigmentation went
        # from 69 to 45 between 0.45 and 1.2 of the light.
        scale = to_reference(lightness)
        tone_l = _robust_std(self.tone_l[interior]) * scale
        unevenness = float(np.hypot(tone_l, _robust_std(self.tone_b[interior]) * scale))
        return Measures(
            pixels=pixels,
            lightness=lightness,
            hue_deg=hue_deg,
            red_patch_pct=red_patch_pct,
            shine_pct=_percent(self.specular, mask),
            unevenness=unevenness,
            dark_spot_pct=_percent(self.dark_spot, mask),
            blemish_pct=_percent(self.blemish, mask),
            texture_pct=float(self.texture[interior].mean()),
        )

    def _red_patch_percent(self, mask: np.ndarray) -> float:
        """Red patches over ``mask``, the clipped skin counted at the rate of the brighter
        half of the skin that did not clip."""
        unclipped = mask & ~self.colour_clipped
        patches = self.red_patch[unclipped]
        clipped = int(mask.sum() - unclipped.sum())
        found = float(patches.sum())
        if clipped:
            lightness = self.lightness[unclipped]
            found += clipped * float(patches[lightness >= np.median(lightness)].mean())
        return found * 100.0 / float(mask.sum())

    def lightness_median(self, mask: np.ndarray) -> float | None:
        """Median L* of the skin-coloured pixels in ``mask`` (None when too few)."""
        selected = mask & self.skin_colour
        if selected.sum() < MIN_MEASURE_PIXELS // 4:
            return None
        return float(np.median(self.lightness[selected]))

    def spots(self) -> list[Spot]:
        """Dark spots and red blemishes as blobs, for drawing."""
        found = []
        for kind, strength in (("dark", self.dark_spot), ("red", self.blemish)):
            blobs = ((strength > 0.5) & self.skin).astype(np.uint8)
            count, _, stats, centroids = cv2.connectedComponentsWithStats(blobs, connectivity=8)
            for label in range(1, count):
                area = int(stats[label, cv2.CC_STAT_AREA])
                if SPOT_AREA_RANGE_PX[0] <= area <= self.largest_spot_area_px:
                    x, y = centroids[label]
                    found.append(Spot(float(x), float(y), float(np.sqrt(area / np.pi)), kind))
        return found


def to_reference(lightness: float) -> float:
    """The factor that reads an L* (or a*) difference on skin of median L* ``lightness``
    as at REFERENCE_LIGHTNESS: the differences a given ratio of light makes grow as L* + 16
    does (L* and a* are cube roots of the light), so more light or lighter skin does not
    make the same shadow or blemish read as more."""
    return (REFERENCE_LIGHTNESS + 16.0) / (lightness + 16.0)


def to_reference_map(lightness: np.ndarray) -> np.ndarray:
    """``to_reference`` pixel by pixel, for a map of local lightness."""
    return cast(np.ndarray, (REFERENCE_LIGHTNESS + 16.0) / (np.maximum(lightness, 0.0) + 16.0))


def measure_pixels(
    canvas: np.ndarray,
    skin_area: np.ndarray | None,
    core_area: np.ndarray | None,
    *,
    spot_scale: float = 1.0,
) -> PixelMaps:
    """Maps for a BGR ``uint8`` canvas.

    ``skin_area`` limits the skin measured (None: anywhere); ``core_area`` is where the
    person's own skin colour is sampled (the cheeks and nose of a face; None: anywhere).
    With a ``spot_scale`` above 1 (a close-up: CLOSE_UP_SPOT_SCALE), spots are also
    looked for that many times wider.
    """
    wide_sigmas = tuple(s * spot_scale for s in SPOT_SIGMAS_PX) if spot_scale > 1.0 else ()
    largest_spot_area_px = SPOT_AREA_RANGE_PX[1] * max(spot_scale, 1.0) ** 2
    lab = cv2.cvtColor(canvas.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    lightness, a_star, b_star = cv2.split(lab)
    skin_colour, even_skin_colour, evened = skin_mask(
        canvas, lab, core_area, largest_spot_area_px=largest_spot_area_px
    )
    skin = _without_islands(skin_colour if skin_area is None else skin_colour & skin_area)
    weight = skin.astype(np.float32)
    # Spots, texture and tone are only trusted away from the mask's edge, where shading,
    # hair and the face's outline begin.
    distance = cv2.distanceTransform(skin.astype(np.uint8), cv2.DIST_L2, 3)
    inner = np.clip(distance / EDGE_MARGIN_PX, 0, 1)
    value, desaturation = _value_desaturation(canvas, skin)
    colour_clipped = value >= CLIPPED_VALUE
    reference = _colour_reference(skin, lightness, colour_clipped)
    blur = _MaskedBlurs(weight)
    # a* grows with the light as L* + 16 does (both are cube roots of it), so red
    # excesses are read as at REFERENCE_LIGHTNESS, each pixel by the light it is in: the
    # same red patches 10 % darker were fewer and 10 % brighter more, and with a window
    # beside the face the lit cheek read as red patches against the shaded one (Grace
    # Hopper's redness, 41, fell to 12-15 with 0.4 of the light on her shaded side;
    # read by the whole face's median lightness, as before 2026-11-29).
    light = blur("L", lightness, LIGHT_SIGMA_PX, far=REFERENCE_LIGHTNESS)
    a_ref = a_star * to_reference_map(light)
    baseline_a = (
        _median(a_ref, skin, 12.0) if reference is None else float(np.median(a_ref[reference]))
    )
    baseline_v = max(_median(value, skin, 0.6), 0.05)
    # Blemish heights and spot depths, against the skin right around them, are read as at
    # REFERENCE_LIGHTNESS by the face's median lightness.
    chroma_scale = to_reference(_median(lightness, skin, REFERENCE_LIGHTNESS))

    fine_a = blur("a_ref", a_ref, CHROMA_SIGMA_PX)
    red_excess = fine_a - baseline_a
    # A spot is a blob: curved the same way in every direction (a crease or the edge of a
    # shadow is curved one way only), so its strength is the Hessian's smaller eigenvalue.
    # Its depth is read as at REFERENCE_LIGHTNESS too: in less light the same spots
    # were shallower, fewer of them passed DARK_SPOT_DEPTH_L, and pigmentation improved.
    dark_depth = _spot_depth(blur, "L", lightness, wide_sigmas, sign=1.0) * chroma_scale
    clipped_skin = skin & colour_clipped
    if clipped_skin.any():
        blob_name, blob_a = "a_filled", _filled_in(a_star, skin & ~colour_clipped, clipped_skin)
    else:
        blob_name, blob_a = "a", a_star
    red_height = _spot_depth(blur, blob_name, blob_a, wide_sigmas, sign=-1.0) * chroma_scale
    blemish = _soft_above(red_height, BLEMISH_EXCESS_A, BLEMISH_SOFTNESS_A) * inner
    not_red = _soft_above(-red_height, -BLEMISH_EXCESS_A / 2, BLEMISH_SOFTNESS_A)
    dark_spot = _soft_above(dark_depth, DARK_SPOT_DEPTH_L, DARK_SPOT_SOFTNESS_L) * not_red * inner

    specular = (
        _soft_above(value / baseline_v, SHINE_VALUE_RATIO, SHINE_VALUE_SOFTNESS)
        * _soft_above(desaturation, SHINE_DESATURATION, SHINE_DESATURATION_SOFTNESS)
        * _soft_above(value, SHINE_MIN_VALUE, SHINE_MIN_VALUE_SOFTNESS)
    )

    # Relative to the local lightness, so a brighter exposure of the same skin measures the
    # same: as at REFERENCE_LIGHTNESS, since L* differences grow as L* + 16 does (divided by
    # L* itself, Grace Hopper's texture went from 32 to 20 between 1.2 and 0.45 of the light).
    wide = blur("L", lightness, TEXTURE_SIGMA_PX[1])
    texture = np.abs(_band_pass(blur, "L", lightness, TEXTURE_SIGMA_PX)) * to_reference_map(wide)
    texture *= 100 / REFERENCE_LIGHTNESS

    tone_l, tone_b = (
        _band_pass(blur, name, channel, TONE_SIGMAS_PX)
        for name, channel in (("L", lightness), ("b", b_star))
    )
    return PixelMaps(
        skin=skin,
        interior=inner,
        skin_colour=skin_colour,
        even_skin_colour=even_skin_colour,
        even_lightness=evened,
        lightness=lightness,
        red_excess=red_excess,
        red_patch=_soft_above(red_excess, RED_PATCH_EXCESS_A, RED_PATCH_SOFTNESS_A),
        colour_clipped=colour_clipped,
        specular=specular,
        blemish=blemish.astype(np.float32),
        dark_spot=dark_spot.astype(np.float32),
        texture=texture,
        tone_l=tone_l,
        tone_b=tone_b,
        a_star=a_star,
        b_star=b_star,
        largest_spot_area_px=largest_spot_area_px,
    )


def skin_mask(
    canvas: np.ndarray,
    lab: np.ndarray,
    core_area: np.ndarray | None,
    *,
    largest_spot_area_px: float = SPOT_AREA_RANGE_PX[1],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Skin-coloured pixels, cleaned; highlights and small spots enclosed by skin count.

    Two masks, lightness compared with the core's as it is and as if the face were evenly
    lit, and the evenly lit L* (``even_lightness``); the eye checks read the last two.
    """
    ycrcb = cv2.cvtColor(canvas, cv2.COLOR_BGR2YCrCb)
    hsv = cv2.cvtColor(canvas, cv2.COLOR_BGR2HSV)
    cr, cb = ycrcb[..., 1], ycrcb[..., 2]
    hue_deg = hsv[..., 0].astype(np.float32) * 2.0  # OpenCV stores hue / 2
    saturation = hsv[..., 1].astype(np.float32) / 255.0
    value = hsv[..., 2].astype(np.float32) / 255.0
    rule = (
        (cr >= SKIN_CR_RANGE[0])
        & (cr <= SKIN_CR_RANGE[1])
        & (cb >= SKIN_CB_RANGE[0])
        & (cb <= SKIN_CB_RANGE[1])
        & ((hue_deg <= SKIN_HUE_MAX_DEG) | (hue_deg >= SKIN_HUE_WRAP_MIN_DEG))
        & (saturation >= SKIN_SATURATION_RANGE[0])
        & (saturation <= SKIN_SATURATION_RANGE[1])
        & (value >= SKIN_VALUE_MIN)
    )
    core = rule if core_area is None else rule & core_area
    lightness, _, b_star = cv2.split(lab)
    evened = even_lightness(lightness, rule)
    return (
        _cleaned(rule & _like_core(lightness, b_star, core), value, largest_spot_area_px),
        _cleaned(rule & _like_core(evened, b_star, core), value, largest_spot_area_px),
        evened,
    )


def _cleaned(rule: np.ndarray, value: np.ndarray, largest_spot_area_px: float) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    # OpenCV types its result as an int or float array; a uint8 mask in is uint8 out.
    mask = cast(np.ndarray, cv2.morphologyEx(rule.astype(np.uint8), cv2.MORPH_OPEN, kernel))
    # A specular highlight is too pale for the colour rules and a dark spot too dark for
    # the person's skin model; both are skin when skin surrounds them. Big dark holes
    # (eyes, nostrils, mouth) stay out.
    holes, hole_area = _holes(mask)
    mask |= (holes & ((value >= SHINE_MIN_VALUE) | (hole_area <= largest_spot_area_px))).astype(
        np.uint8
    )
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    return mask.astype(bool)


def even_lightness(lightness: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """L* as if the face were evenly lit at REFERENCE_LIGHTNESS: each pixel read against
    the light it is in, the L* of the ``sample`` pixels around it."""
    blur = _MaskedBlurs(sample.astype(np.float32))
    light = blur("L", lightness, EVEN_LIGHT_SIGMA_PX, far=REFERENCE_LIGHTNESS)
    return cast(np.ndarray, (lightness + 16.0) * to_reference_map(light) - 16.0)


def _like_core(lightness: np.ndarray, b_star: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Pixels whose colour fits the person's own skin, sampled in ``core``.

    Hair, brows and shadowed background pass the generic skin rules but are darker or
    yellower than the face, so a pixel must be neither much darker nor much yellower
    than the core. The other directions stay open: highlights are brighter and greyer,
    blemishes redder, and they are skin.
    """
    if core.sum() < MIN_MEASURE_PIXELS:
        return np.ones(core.shape, dtype=bool)
    l_mid, l_spread = _centre_spread(lightness[core], CORE_MIN_SPREAD_L)
    b_mid, b_spread = _centre_spread(b_star[core], CORE_MIN_SPREAD_B)
    return (lightness >= l_mid - CORE_REACH_SPREADS * l_spread) & (
        b_star <= b_mid + CORE_REACH_SPREADS * b_spread
    )


def _without_islands(mask: np.ndarray) -> np.ndarray:
    """The mask without specks smaller than MIN_MEASURE_PIXELS: skin-coloured strands of
    hair or a fleck of background are not skin to measure."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= MIN_MEASURE_PIXELS
    keep[0] = False  # the background
    return cast(np.ndarray, keep[labels])  # OpenCV's labels are typed Any


def _centre_spread(values: np.ndarray, min_spread: float) -> tuple[float, float]:
    return float(np.median(values)), max(_robust_std(values), min_spread)


def _holes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels outside ``mask`` enclosed by it (not touching the border), and each such
    pixel's hole area in px (0 elsewhere)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (mask == 0).astype(np.uint8), connectivity=4
    )
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    enclosed = np.ones(count, dtype=bool)
    enclosed[border] = False
    enclosed[0] = False  # label 0 is the mask itself
    area = np.where(enclosed, stats[:, cv2.CC_STAT_AREA], 0)
    return enclosed[labels], area[labels]


def _value_desaturation(canvas: np.ndarray, skin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HSV value (0-1) and how much of the person's median saturation a pixel has lost
    (0: as saturated as their skin, 1: white).

    Where the brightest channel clips, HSV saturation falls although no white light
    was added, so there the loss is read from the two other channels instead (their
    own saturation against its skin median), which clipping leaves alone.
    """
    # Slightly smoothed first: JPEG noise in the small channel differences is large.
    smooth = cv2.GaussianBlur(canvas.astype(np.float32) / 255.0, (0, 0), FINE_SIGMA_PX)
    channels = np.sort(smooth, axis=2)
    low, middle, value = channels[..., 0], channels[..., 1], channels[..., 2]
    saturation = (value - low) / np.maximum(value, 1e-3)
    lower_saturation = (middle - low) / np.maximum(middle, 1e-3)
    loss = 1.0 - saturation / max(_median(saturation, skin, 0.3), 0.02)
    lower_loss = 1.0 - lower_saturation / max(_median(lower_saturation, skin, 0.1), 0.01)
    clipped = _soft_above(value, CLIPPED_VALUE, CLIPPED_VALUE_SOFTNESS)
    return value, (1.0 - clipped) * loss + clipped * lower_loss


class _MaskedBlurs:
    """Gaussian blurs that average skin pixels only (normalised convolution): eyes, hair
    and background do not bleed into the skin near their edges.

    Each is computed once per canvas: the weight's own blur at a scale is shared by
    every channel, and a channel's blur by every measure that reads it.
    """

    def __init__(self, weight: np.ndarray) -> None:
        self.weight = weight
        self._weights: dict[float, np.ndarray] = {}
        self._blurs: dict[tuple[str, float], np.ndarray] = {}

    def __call__(
        self, name: str, channel: np.ndarray, sigma_px: float, *, far: float | None = None
    ) -> np.ndarray:
        key = (name, sigma_px)
        if key not in self._blurs:
            if sigma_px not in self._weights:
                self._weights[sigma_px] = _gaussian(self.weight, sigma_px)
            denominator = self._weights[sigma_px]
            numerator = _gaussian(channel * self.weight, sigma_px)
            # Far from any skin nothing is measured; the pixel itself stands in there, or
            # ``far`` (the light's blurs: REFERENCE_LIGHTNESS, which leaves a pixel as it is).
            self._blurs[key] = np.where(
                denominator > 1e-3,
                numerator / np.maximum(denominator, 1e-3),
                channel if far is None else far,
            )
        return self._blurs[key]


def _gaussian(values: np.ndarray, sigma_px: float) -> np.ndarray:
    """A Gaussian blur ``sigma_px`` wide. The light's blurs (LIGHT_SIGMA_PX and wider)
    are taken on the canvas shrunk by a sixth of their width (4 or 8 times) and enlarged
    again: light changes slowly across a face, so they are within 0.1 L* of the full-size
    blur, in a thirtieth of the time (16 ms an analysis at full size)."""
    if sigma_px < LIGHT_SIGMA_PX:
        return cast(np.ndarray, cv2.GaussianBlur(values, (0, 0), sigma_px))
    step = int(sigma_px // 6)
    height, width = values.shape
    small = cv2.resize(
        values, (max(1, width // step), max(1, height // step)), interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / step)
    return cast(np.ndarray, cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR))


def _spot_depth(
    blur: _MaskedBlurs,
    name: str,
    channel: np.ndarray,
    wide_sigmas_px: tuple[float, ...],
    *,
    sign: float,
) -> np.ndarray:
    """``_blob_depth`` over SPOT_SIGMAS_PX, and over ``wide_sigmas_px`` (a close-up's)
    taken WIDE_SPOT_DEPTH_RATIO times shallower."""
    depth = _blob_depth(blur, name, channel, SPOT_SIGMAS_PX, sign=sign)
    if wide_sigmas_px:
        wide = _blob_depth(blur, name, channel, wide_sigmas_px, sign=sign)
        depth = np.maximum(depth, wide / WIDE_SPOT_DEPTH_RATIO)
    return depth


def _blob_depth(
    blur: _MaskedBlurs,
    name: str,
    channel: np.ndarray,
    sigmas_px: tuple[float, ...],
    *,
    sign: float,
) -> np.ndarray:
    """How far a small round blob dips below (``sign`` 1) or rises above (-1) its
    surroundings, in the channel's units, best over ``sigmas_px``.

    For a Gaussian blob of depth D seen at its own scale sigma, the scale-normalised
    Hessian eigenvalue sigma^2 * lambda is D / 4, hence the factor 4.
    """
    depth = np.zeros(channel.shape, dtype=np.float32)
    for sigma in sigmas_px:
        smooth = blur(name, channel, sigma) * sign
        # Sobel with ksize 3 weights its second differences by 4 (the [1, 2, 1] smoothing).
        dxx = cv2.Sobel(smooth, cv2.CV_32F, 2, 0, ksize=3) / 4.0
        dyy = cv2.Sobel(smooth, cv2.CV_32F, 0, 2, ksize=3) / 4.0
        dxy = cv2.Sobel(smooth, cv2.CV_32F, 1, 1, ksize=3) / 4.0
        smaller = (dxx + dyy) / 2.0 - np.sqrt(((dxx - dyy) / 2.0) ** 2 + dxy**2)
        depth = np.maximum(depth, 4.0 * sigma**2 * smaller)
    return depth


def _band_pass(
    blur: _MaskedBlurs, name: str, channel: np.ndarray, sigmas_px: tuple[float, float]
) -> np.ndarray:
    """Detail between two scales (difference of masked Gaussian blurs)."""
    fine, coarse = sigmas_px
    return cast(np.ndarray, blur(name, channel, fine) - blur(name, channel, coarse))


def _soft_above(values: np.ndarray, threshold: float, softness: float) -> np.ndarray:
    """A logistic step: 0.5 at ``threshold``, 0.88 one ``softness`` above it."""
    z = np.clip((values - threshold) / (softness / 2.0), -30.0, 30.0)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def _colour_reference(
    mask: np.ndarray, lightness: np.ndarray, colour_clipped: np.ndarray
) -> np.ndarray | None:
    """The darker half of the skin in ``mask``, where it did not clip (None: too little)."""
    if mask.sum() < MIN_MEASURE_PIXELS:
        return None
    reference = mask & (lightness <= np.median(lightness[mask])) & ~colour_clipped
    return reference if reference.sum() >= MIN_REFERENCE_PIXELS else None


def _filled_in(channel: np.ndarray, known: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """``channel`` with its ``unknown`` pixels replaced by a blur of the ``known`` ones."""
    weight = known.astype(np.float32)
    around = cv2.GaussianBlur(weight, (0, 0), BLEMISH_FILL_SIGMA_PX)
    mean = cv2.GaussianBlur(channel * weight, (0, 0), BLEMISH_FILL_SIGMA_PX)
    estimate = np.where(around > 1e-3, mean / np.maximum(around, 1e-3), channel)
    return np.where(unknown, estimate, channel).astype(np.float32)


def _median(values: np.ndarray, mask: np.ndarray, default: float) -> float:
    if mask.sum() < MIN_MEASURE_PIXELS:
        return default
    return float(np.median(values[mask]))


def _percent(strength: np.ndarray, mask: np.ndarray) -> float:
    return float(strength[mask].mean() * 100.0)


def _robust_std(values: np.ndarray) -> float:
    """Standard deviation from the median absolute deviation: a few spots do not dominate."""
    median = np.median(values)
    return float(1.4826 * np.median(np.abs(values - median)))
