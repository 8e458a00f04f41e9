"""The face's regions as polygons of mesh landmarks, and their masks on a canvas.

    layout = face_layout(points_on_canvas, canvas.shape, face_width_px=width)
    layout.regions["left_cheek"]  # bool mask: the cheek's skin, never eye, brow or lip

Indices are those of MediaPipe's canonical 468-point face mesh. "left" is the person's
left, the image's right in an unmirrored photo. The eyes, brows, lips and nostrils are
cut out of every region, with a margin, so lashes, brow hairs and lip colour are never
measured as skin; hair over the forehead or cheeks is left out later by the skin-colour
mask, which no geometry can replace.
"""

from dataclasses import dataclass

import cv2
import numpy as np

FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
    377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
NOT_SKIN = {
    "right_eye": (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    "left_eye": (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249),
    "right_brow": (70, 63, 105, 66, 107, 55, 65, 52, 53, 46),
    "left_brow": (300, 293, 334, 296, 336, 285, 295, 282, 283, 276),
    "lips": (
        61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146,
    ),
    "nostrils": (48, 64, 98, 97, 2, 326, 327, 294, 278, 19),
}  # fmt: skip
# Each excluded part is widened by this share of the face's width: lashes, brow hairs
# and the lip line reach past the landmarks' outline.
NOT_SKIN_MARGIN_FRACTION = 0.025
REGION_POLYGONS = {
    "forehead": (54, 103, 67, 109, 10, 338, 297, 332, 284, 293, 334, 296, 336, 9, 107, 66, 105, 63),
    "nose": (168, 417, 351, 419, 456, 420, 360, 4, 131, 198, 236, 196, 122, 193),
    "left_cheek": (345, 346, 347, 348, 329, 371, 423, 426, 427, 411, 376, 352),
    "right_cheek": (116, 117, 118, 119, 100, 142, 203, 206, 207, 187, 147, 123),
    "chin": (18, 83, 182, 106, 210, 169, 140, 171, 175, 396, 369, 394, 430, 335, 406, 313),
    "left_under_eye": (
        255, 339, 254, 253, 252, 256, 341, 463, 464, 357, 350, 349, 348, 347, 346, 340, 265,
    ),
    "right_under_eye": (
        25, 110, 24, 23, 22, 26, 112, 243, 244, 128, 121, 120, 119, 118, 117, 111, 35,
    ),
    "left_crows_feet": (300, 276, 353, 265, 372, 264, 356, 389, 251, 301),
    "right_crows_feet": (70, 46, 124, 35, 143, 34, 127, 162, 21, 71),
    "left_nasolabial": (423, 426, 436, 432, 410, 322, 391),
    "right_nasolabial": (203, 206, 216, 212, 186, 92, 165),
}  # fmt: skip
# The five regions every provider scores, and the ones only the landmarks can place.
MAIN_REGIONS = ("forehead", "nose", "left_cheek", "right_cheek", "chin")
UNDER_EYES = ("left_under_eye", "right_under_eye")
CHEEKS = ("left_cheek", "right_cheek")
# Where the person's own skin colour is sampled: the least likely to hold hair or shadow.
CORE_REGIONS = ("nose", "left_cheek", "right_cheek")


@dataclass(frozen=True)
class FaceLayout:
    """Where to measure, as bool masks in the pixels of one canvas."""

    regions: dict[str, np.ndarray]  # each region's skin: its polygon minus NOT_SKIN
    skin_area: np.ndarray  # the face oval minus NOT_SKIN
    oval: np.ndarray  # the face oval, eyes, brows and lips included
    core_area: np.ndarray  # cheeks and nose, where the skin colour is sampled
    outlines: dict[str, np.ndarray]  # each region's polygon (N x 2, canvas px), for drawing

    def union(self, names: tuple[str, ...]) -> np.ndarray:
        mask = np.zeros_like(self.skin_area)
        for name in names:
            mask |= self.regions[name]
        return mask


def face_layout(points: np.ndarray, shape: tuple[int, ...], *, face_width_px: float) -> FaceLayout:
    """Masks on a canvas of ``shape`` for landmarks already in its pixels (468 x 2 or 3)."""
    xy = points[:, :2].astype(np.float32)
    not_skin = np.zeros(shape[:2], dtype=np.uint8)
    margin = max(1, round(face_width_px * NOT_SKIN_MARGIN_FRACTION))
    for polygon in NOT_SKIN.values():
        _fill(not_skin, xy, polygon)
        # The outline drawn 2 * margin thick widens the part by the margin all round:
        # a dilation, at a fraction of its cost on a large canvas.
        vertices = np.round(xy[list(polygon)] * 16).astype(np.int32)
        cv2.polylines(not_skin, [vertices], True, 1, 2 * margin + 1, cv2.LINE_8, shift=4)
    skin_ok = not_skin == 0
    oval = np.zeros(shape[:2], dtype=np.uint8)
    _fill(oval, xy, FACE_OVAL)
    regions, outlines = {}, {}
    for name, polygon in REGION_POLYGONS.items():
        mask = np.zeros(shape[:2], dtype=np.uint8)
        _fill(mask, xy, polygon)
        regions[name] = (mask > 0) & skin_ok
        outlines[name] = xy[list(polygon)]
    skin_area = (oval > 0) & skin_ok
    core_area = np.zeros(shape[:2], dtype=bool)
    for name in CORE_REGIONS:
        core_area |= regions[name]
    return FaceLayout(
        regions=regions,
        skin_area=skin_area,
        oval=oval > 0,
        core_area=core_area,
        outlines=outlines,
    )


def polygon_mask(
    points: np.ndarray, polygon: tuple[int, ...], shape: tuple[int, ...]
) -> np.ndarray:
    """The bool mask of one landmark polygon (no margin) on a canvas of ``shape``."""
    mask = np.zeros(shape[:2], dtype=np.uint8)
    _fill(mask, points[:, :2].astype(np.float32), polygon)
    return mask > 0


def _fill(mask: np.ndarray, xy: np.ndarray, polygon: tuple[int, ...]) -> None:
    # Sub-pixel vertices (4 fractional bits): a landmark moving by a fraction of a pixel
    # moves the mask's edge by as much, not by a whole pixel at a time.
    vertices = np.round(xy[list(polygon)] * 16).astype(np.int32)
    cv2.fillPoly(mask, [vertices], 1, lineType=cv2.LINE_8, shift=4)
