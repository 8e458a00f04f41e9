"""Fine detail on the detail canvas (the face DETAIL_CANVAS_WIDTH_PX wide): lines and pores.

    detail = measure_detail(canvas, layout, skin)
    detail.wrinkles(layout.regions["forehead"])  # (line density %, mean line depth %)

Both come from the Hessian of the lightness (its second derivatives), read at a few
scales, as oriented ridge filters do:
- a line (wrinkle, fine line) is a valley curved across and flat along: one large
  positive eigenvalue, one near zero, whatever its direction;
- a pore is a small pit curved the same way in every direction: both eigenvalues
  positive and alike.
Strengths are relative to the local lightness (% of it), so a brighter exposure of the
same skin measures the same. Only each region's bounding box is filtered, which keeps a
12-megapixel face cheap.
"""

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from ai.offline.images import grain
from ai.offline.regions import FaceLayout

WRINKLE_REGIONS = (
    "forehead",
    "left_crows_feet",
    "right_crows_feet",
    "left_under_eye",
    "right_under_eye",
    "left_nasolabial",
    "right_nasolabial",
)
PORE_REGIONS = ("nose", "left_cheek", "right_cheek")
# Scales (Gaussian sigma, detail-canvas px, about 0.14 mm each): fine lines are 0.2-0.5
# mm wide, wrinkles and folds up to a millimetre or more; pores 0.1-0.4 mm across.
LINE_SIGMAS_PX = (1.5, 3.0, 5.0)
PORE_SIGMAS_PX = (1.0, 1.6)
# A line is counted from this depth (scale-normalised curvature, % of the local
# lightness); the soft step spreads over the softness.
LINE_DEPTH_PCT = 1.2
LINE_SOFTNESS_PCT = 0.4
# A valley is a line when its curvature across is at least this many times the curvature
# along it (a blob's are alike).
LINE_ANISOTROPY = 3.0
PORE_DEPTH_PCT = 1.0
PORE_SOFTNESS_PCT = 0.3
# A sensor's grain makes pits and lines of its own: Gaussian noise of sigma 4 grey
# levels on the large portrait (face 1,100 px wide) took pores from 93 to 77, sigma 8
# to 17 (and wrinkles from 82 to 75), while the photo was not yet grainy enough to be
# called `noisy` (sigma 12). So a pit or a line counts by how much deeper it is than the
# grain's own at that scale: the grain measured in the region (grey levels) times the
# depth this share of pixels stays under in noise of one grey level.
NOISE_DEPTH_QUANTILE = 0.99
# Where the grain's own depth (the noise measured in the regions, as deep as above, read
# against the skin's median grey) passes the depth a pit or a line is counted from, that
# metric is not measured: there the grain hides the skin's own pits, and the large Grace
# Hopper's pores (29 as taken; 28-31 with grain of sigma 3-5, 41 at 6) would read 49 at
# 7 and 54 at 8 (before the grain was allowed for: 12 at 3, 6 at 5, 2 at 8). Fair skin
# reaches it at about sigma 7-8 for pores (the large portrait read 89-93 up to 7), 9 for
# lines; darker skin, whose pits are shallower in grey levels, sooner.
MAX_GRAIN_DEPTH_SHARE = 1.0
# A crease is skin in its own shadow, never under this share of the region's median
# grey: darker lines are hair, a frame or a pen line, and are left out with the skin
# beside them. Locks of dark hair drawn across the portrait's forehead were lines 41 %
# deep (median; up to 159 %), against 17 % at most for its own lines and 38 % for lines
# drawn twice as deep as the fine-lines edit's, and took 41-51 points off wrinkles.
CREASE_MIN_LIGHTNESS_SHARE = 0.5
# The local lightness the strengths are relative to: a blur wider than any line.
LOCAL_LIGHTNESS_SIGMA_PX = 8.0
# Region edges (hair, brows, the margin round the eyes) are left out by this much.
EDGE_MARGIN_PX = 6
MIN_MEASURE_PIXELS = 400


@dataclass(frozen=True)
class DetailMaps:
    line: np.ndarray  # 0-1: how surely a pixel lies on a line
    line_depth: np.ndarray  # % of the local lightness
    pore: np.ndarray  # 0-1: how surely a pixel lies in a pore
    measured: np.ndarray  # bool: skin inside the regions, away from their edges
    # "line", "pore": the kinds not measured for the photo's grain (MAX_GRAIN_DEPTH_SHARE)
    grainy: frozenset[str] = frozenset()

    def wrinkles(self, mask: np.ndarray) -> tuple[float, float] | None:
        """(line density: % of the skin on lines, mean depth of those lines %)."""
        selected = mask & self.measured
        if selected.sum() < MIN_MEASURE_PIXELS:
            return None
        line = self.line[selected]
        density = float(line.mean() * 100.0)
        depth = float((self.line_depth[selected] * line).sum() / max(line.sum(), 1.0))
        return density, depth

    def pores(self, mask: np.ndarray) -> float | None:
        """Pore density: % of the skin in pores."""
        selected = mask & self.measured
        if selected.sum() < MIN_MEASURE_PIXELS:
            return None
        return float(self.pore[selected].mean() * 100.0)


def measure_detail(canvas: np.ndarray, layout: FaceLayout, skin: np.ndarray) -> DetailMaps:
    """Line and pore maps over the wrinkle and pore regions of a BGR ``uint8`` canvas."""
    shape = canvas.shape[:2]
    line = np.zeros(shape, dtype=np.float32)
    line_depth = np.zeros(shape, dtype=np.float32)
    pore = np.zeros(shape, dtype=np.float32)
    kernel = cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (2 * EDGE_MARGIN_PX + 1, 2 * EDGE_MARGIN_PX + 1)
    )
    measured = np.zeros(shape, dtype=bool)
    grainy = set()
    for names, sigmas, kind, counted_pct in (
        (WRINKLE_REGIONS, LINE_SIGMAS_PX, "line", LINE_DEPTH_PCT),
        (PORE_REGIONS, PORE_SIGMAS_PX, "pore", PORE_DEPTH_PCT),
    ):
        parts = []
        for name in names:
            region = layout.regions[name] & skin
            if region.sum() < MIN_MEASURE_PIXELS:
                continue
            rows, cols = _padded_box(region, round(3 * max(sigmas) + LOCAL_LIGHTNESS_SIGMA_PX))
            inside = cv2.erode(region[rows, cols].astype(np.uint8), kernel).astype(bool)
            if inside.sum() < MIN_MEASURE_PIXELS:
                continue
            gray = cv2.cvtColor(canvas[rows, cols], cv2.COLOR_BGR2GRAY).astype(np.float32)
            if kind == "line":
                inside &= ~_not_creases(gray, inside, max(sigmas))
                if inside.sum() < MIN_MEASURE_PIXELS:
                    continue
            parts.append((rows, cols, inside, gray, grain(gray)))
        if not parts:
            continue
        # The grain's own depth against the skin's median grey where this kind is read.
        noise = max(region_noise for *_, region_noise in parts)
        lightness = float(
            np.median(np.concatenate([gray[inside] for _, _, inside, gray, _ in parts]))
        )
        if noise * _noise_depth(kind, min(sigmas)) / max(lightness, 10.0) * 100.0 > (
            MAX_GRAIN_DEPTH_SHARE * counted_pct
        ):
            grainy.add(kind)
            continue
        for rows, cols, inside, gray, region_noise in parts:
            measured[rows, cols] |= inside
            local = np.maximum(cv2.GaussianBlur(gray, (0, 0), LOCAL_LIGHTNESS_SIGMA_PX), 10.0)
            depth = _depth_beyond_grain(kind, gray, sigmas, region_noise) / local * 100.0
            if kind == "line":
                strength = _soft_above(depth, LINE_DEPTH_PCT, LINE_SOFTNESS_PCT)
                line[rows, cols] = np.where(inside, strength, line[rows, cols])
                line_depth[rows, cols] = np.where(inside, depth, line_depth[rows, cols])
            else:
                strength = _soft_above(depth, PORE_DEPTH_PCT, PORE_SOFTNESS_PCT)
                pore[rows, cols] = np.where(inside, strength, pore[rows, cols])
    return DetailMaps(
        line=line, line_depth=line_depth, pore=pore, measured=measured, grainy=frozenset(grainy)
    )


def _not_creases(gray: np.ndarray, skin: np.ndarray, sigma: float) -> np.ndarray:
    """What is too dark to be skin in a crease's shadow, and the skin beside it that a
    line filter at ``sigma`` would see it from: hair across the forehead, a frame's rim."""
    dark = gray < CREASE_MIN_LIGHTNESS_SHARE * float(np.median(gray[skin]))
    size = 2 * round(2 * sigma) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.dilate(dark.astype(np.uint8), kernel).astype(bool)


def _hessian_eigen(gray: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The larger and smaller eigenvalues of the scale-normalised Hessian at ``sigma``."""
    smooth = cv2.GaussianBlur(gray, (0, 0), sigma)
    # Sobel with ksize 3 weights its second differences by 4 (the [1, 2, 1] smoothing).
    dxx = cv2.Sobel(smooth, cv2.CV_32F, 2, 0, ksize=3) / 4.0
    dyy = cv2.Sobel(smooth, cv2.CV_32F, 0, 2, ksize=3) / 4.0
    dxy = cv2.Sobel(smooth, cv2.CV_32F, 1, 1, ksize=3) / 4.0
    half_trace = (dxx + dyy) / 2.0
    root = np.sqrt(((dxx - dyy) / 2.0) ** 2 + dxy**2)
    norm = sigma**2
    return (half_trace + root) * norm, (half_trace - root) * norm


def _depth_beyond_grain(
    kind: str, gray: np.ndarray, sigmas: tuple[float, ...], noise: float
) -> np.ndarray:
    """How deep a dark line or a small pit (``kind`` "line" or "pore") is, in grey levels,
    beyond those of the photo's grain (``noise``, its standard deviation), best over
    ``sigmas``; 0 off lines or pits."""
    best = np.zeros(gray.shape, dtype=np.float32)
    for sigma in sigmas:
        depth = RAW_DEPTH[kind](gray, sigma) - noise * _noise_depth(kind, sigma)
        best = np.maximum(best, depth)
    return best


def _raw_line_depth(gray: np.ndarray, sigma: float) -> np.ndarray:
    across, along = _hessian_eigen(gray, sigma)
    is_line = (across > 0) & (across >= LINE_ANISOTROPY * np.abs(along))
    # A Gaussian valley of depth D seen at its own scale has sigma^2 * lambda of about
    # D / 2.6; the factor keeps the depth in the lightness' own units.
    return np.where(is_line, 2.6 * (across - np.abs(along)), 0.0).astype(np.float32)


def _raw_pore_depth(gray: np.ndarray, sigma: float) -> np.ndarray:
    _, smaller = _hessian_eigen(gray, sigma)
    # A round Gaussian pit of depth D at its own scale: sigma^2 * lambda = D / 4.
    depth: np.ndarray = 4.0 * np.maximum(smaller, 0.0)
    return depth


# Each kind's depth at one scale, grain and all (grey levels).
RAW_DEPTH = {"line": _raw_line_depth, "pore": _raw_pore_depth}


@functools.cache
def _noise_depth(kind: str, sigma: float) -> float:
    """The depth (grey levels) of a ``kind`` ("line" or "pore") at ``sigma`` that
    NOISE_DEPTH_QUANTILE of the pixels of Gaussian noise of one grey level stay under
    (pits: about 0.95 at 1 px, 0.72 at 1.6)."""
    noise = np.random.default_rng(0).normal(0.0, 1.0, (512, 512)).astype(np.float32)
    return float(np.quantile(RAW_DEPTH[kind](noise, sigma), NOISE_DEPTH_QUANTILE))


def _padded_box(mask: np.ndarray, pad: int) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, mask.shape[0])
    left, right = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, mask.shape[1])
    return slice(top, bottom), slice(left, right)


def _soft_above(values: np.ndarray, threshold: float, softness: float) -> np.ndarray:
    """A logistic step: 0.5 at ``threshold``, 0.88 one ``softness`` above it."""
    z = np.clip((values - threshold) / (softness / 2.0), -30.0, 30.0)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
