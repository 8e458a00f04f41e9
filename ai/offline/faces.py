"""Finding the face and eyes (OpenCV's bundled Haar cascades) and the regions drawn from them.

    detection = detect_face(gray)  # FaceDetection in the grey image's pixels, or None
    layout = face_layout(detection.scaled(factor, dx=-left, dy=-top), canvas.shape)

The cascades ship inside opencv-python-headless (``cv2.data.haarcascades``): nothing is
downloaded. Each is loaded once per process.
"""

import functools
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ai.offline.images import resize_long_side

# Tried in order until one finds a face, with its minNeighbors (how many overlapping
# windows must agree). The second catches faces the first misses, e.g. a face with many
# dark spots, whose light/dark pattern the default cascade no longer recognises.
FACE_CASCADES = (
    ("haarcascade_frontalface_default.xml", 5),
    ("haarcascade_frontalface_alt2.xml", 3),
)
EYE_CASCADE_FILE = "haarcascade_eye.xml"
# Faces are searched on a copy this size: fast, and the same window scales whatever the
# photo's resolution, so a photo and its upscaled copy give the same box.
DETECTION_LONG_SIDE_PX = 640
# A face narrower than this share of the photo's short side is too small to analyse.
FACE_MIN_SHORT_SIDE_FRACTION = 0.08
FACE_SCALE_FACTOR = 1.1
# Eyes are searched in the face's upper band, resized so the face is this wide: the eye
# cascade's 20 px window then fits eyes of any photo.
EYE_SEARCH_FACE_WIDTH_PX = 200
EYE_SEARCH_BAND_FRACTIONS = (0.0, 0.12, 1.0, 0.62)  # of the face box
EYE_MIN_NEIGHBORS = 5
# A plausible eye box is this wide (fractions of the face width), and the two eyes'
# centres differ in height by at most EYE_LEVEL_TOLERANCE face widths.
EYE_WIDTH_RANGE_FRACTIONS = (0.12, 0.40)
EYE_LEVEL_TOLERANCE = 0.15
# Within an eye box (fractions): the part left out of the skin (eye, lashes) and the
# band under it where dark circles show.
EYE_EXCLUSION_FRACTIONS = (-0.10, -0.05, 1.10, 0.80)
UNDER_EYE_FRACTIONS = (0.15, 0.78, 0.85, 1.10)

# Where the eyes sit in a frontal Haar face box, on average: their midpoint at these
# fractions of the box, their centres this fraction of its width apart. The eyes locate
# the face about twice as steadily as the box, whose size jitters by several percent
# between near-identical photos; every measure's scale follows the box.
EYE_MIDPOINT_FRACTIONS = (0.50, 0.38)
EYE_DISTANCE_FRACTION = 0.455

# Regions as fractions (left, top, right, bottom) of the face box, placed on a frontal
# Haar box (it runs from mid-forehead to the chin). "left" is the person's left, which
# is the image's right in an unmirrored photo.
REGION_FRACTIONS = {
    "forehead": (0.28, 0.04, 0.72, 0.24),
    "nose": (0.42, 0.45, 0.58, 0.68),
    "left_cheek": (0.66, 0.52, 0.88, 0.76),
    "right_cheek": (0.12, 0.52, 0.34, 0.76),
    "chin": (0.36, 0.96, 0.64, 1.12),
}
# Where the person's own skin colour is sampled: the least likely to hold hair or shadow.
CORE_REGIONS = ("nose", "left_cheek", "right_cheek")
# Where the eyes sit when the eye cascade finds none (fractions of the face box).
DEFAULT_EYE_FRACTIONS = ((0.13, 0.22, 0.43, 0.50), (0.57, 0.22, 0.87, 0.50))
# Skin measured for the face: an ellipse in the box, without eyes, brows and mouth.
FACE_ELLIPSE_FRACTIONS = (0.50, 0.58, 0.44, 0.56)  # centre x, centre y, half-width, half-height
MOUTH_ELLIPSE_FRACTIONS = (0.50, 0.86, 0.32, 0.10)
BROW_BAND_FRACTIONS = (0.10, 0.24, 0.90, 0.33)
NOSTRIL_BAND_FRACTIONS = (0.36, 0.66, 0.64, 0.76)


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    def scaled(self, factor: float, *, dx: float = 0.0, dy: float = 0.0) -> "Box":
        """This box after the image is shifted by (dx, dy) and then scaled by ``factor``."""
        return Box((self.x + dx) * factor, (self.y + dy) * factor, self.w * factor, self.h * factor)

    def part(self, left: float, top: float, right: float, bottom: float) -> "Box":
        """The sub-box given as fractions of this box's width and height."""
        return Box(
            self.x + left * self.w,
            self.y + top * self.h,
            (right - left) * self.w,
            (bottom - top) * self.h,
        )

    def slices(self, shape: tuple[int, ...]) -> tuple[slice, slice]:
        """Row and column slices of this box, clipped to an array of ``shape``."""
        top = min(max(round(self.y), 0), shape[0])
        left = min(max(round(self.x), 0), shape[1])
        bottom = min(max(round(self.y + self.h), top), shape[0])
        right = min(max(round(self.x + self.w), left), shape[1])
        return slice(top, bottom), slice(left, right)

    def mask(self, shape: tuple[int, ...]) -> np.ndarray:
        mask = np.zeros(shape[:2], dtype=bool)
        mask[self.slices(shape)] = True
        return mask


@dataclass(frozen=True)
class FaceDetection:
    face: Box
    # (image-left eye, image-right eye), or None when the cascade did not find both.
    eyes: tuple[Box, Box] | None

    def scaled(self, factor: float, *, dx: float = 0.0, dy: float = 0.0) -> "FaceDetection":
        eyes = None
        if self.eyes is not None:
            eyes = tuple(eye.scaled(factor, dx=dx, dy=dy) for eye in self.eyes)
        return FaceDetection(self.face.scaled(factor, dx=dx, dy=dy), eyes)


@dataclass(frozen=True)
class FaceLayout:
    """Where to measure, in the pixels of the face canvas."""

    face: Box
    eyes_found: bool
    regions: dict[str, Box]
    under_eyes: tuple[Box, Box]
    skin_area: np.ndarray  # bool: face ellipse without eyes, brows, nostrils and mouth
    core_area: np.ndarray  # bool: cheeks and nose, where the skin colour is sampled


@functools.cache
def _cascade(filename: str) -> tuple[cv2.CascadeClassifier, threading.Lock]:
    """The classifier, loaded once per process, and the lock that guards it: detectMultiScale
    keeps per-call buffers in the classifier, so one instance is not safe to share between
    threads."""
    path = Path(cv2.data.haarcascades) / filename
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        raise RuntimeError(f"OpenCV's {filename} is missing from {path.parent}")
    return classifier, threading.Lock()


def _detect(filename: str, gray: np.ndarray, **options) -> list[tuple[int, int, int, int, int]]:
    """Boxes (x, y, w, h) with their votes: how many neighbouring windows agreed."""
    classifier, lock = _cascade(filename)
    with lock:
        boxes, votes = classifier.detectMultiScale2(gray, **options)
    return [(*(int(v) for v in box), int(vote)) for box, vote in zip(boxes, votes, strict=True)]


def detect_face(gray: np.ndarray) -> FaceDetection | None:
    """The most certain frontal face and, when both are found, its eyes (in ``gray``'s pixels).

    The face with the most votes wins, not the largest: a false detection (a collar, a
    pattern) can be bigger than the face but gathers far fewer agreeing windows.
    """
    # Equalised as OpenCV's own samples do: a dark or flat photo gets the contrast the
    # cascades were trained on.
    small = cv2.equalizeHist(resize_long_side(gray, DETECTION_LONG_SIDE_PX))
    factor = gray.shape[1] / small.shape[1]
    min_side = max(24, round(min(small.shape) * FACE_MIN_SHORT_SIDE_FRACTION))
    for filename, min_neighbors in FACE_CASCADES:
        faces = _detect(
            filename,
            small,
            scaleFactor=FACE_SCALE_FACTOR,
            minNeighbors=min_neighbors,
            minSize=(min_side, min_side),
        )
        if faces:
            break
    else:
        return None
    x, y, w, h, _ = max(faces, key=lambda box: (box[4], box[2] * box[3], -box[0], -box[1]))
    face = Box(x * factor, y * factor, w * factor, h * factor)
    eyes = _detect_eyes(gray, face)
    return FaceDetection(face if eyes is None else _face_from_eyes(eyes), eyes)


def _face_from_eyes(eyes: tuple[Box, Box]) -> Box:
    """The face box placed and sized from the eyes' centres (see EYE_DISTANCE_FRACTION)."""
    (left_x, left_y), (right_x, right_y) = ((eye.x + eye.w / 2, eye.y + eye.h / 2) for eye in eyes)
    width = float(np.hypot(right_x - left_x, right_y - left_y)) / EYE_DISTANCE_FRACTION
    middle_x, middle_y = (left_x + right_x) / 2, (left_y + right_y) / 2
    fraction_x, fraction_y = EYE_MIDPOINT_FRACTIONS
    return Box(middle_x - fraction_x * width, middle_y - fraction_y * width, width, width)


def _detect_eyes(gray: np.ndarray, face: Box) -> tuple[Box, Box] | None:
    band = face.part(*EYE_SEARCH_BAND_FRACTIONS)
    rows, cols = band.slices(gray.shape)
    roi = gray[rows, cols]
    if roi.size == 0:
        return None
    factor = EYE_SEARCH_FACE_WIDTH_PX / roi.shape[1]
    roi = cv2.equalizeHist(
        cv2.resize(roi, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    )
    candidates = [
        Box(x / factor + cols.start, y / factor + rows.start, w / factor, h / factor)
        for x, y, w, h, _ in _detect(
            EYE_CASCADE_FILE, roi, scaleFactor=1.1, minNeighbors=EYE_MIN_NEIGHBORS
        )
    ]
    # The biggest plausible eye on each side of the face wins.
    narrowest, widest = (fraction * face.w for fraction in EYE_WIDTH_RANGE_FRACTIONS)
    plausible = [eye for eye in candidates if narrowest <= eye.w <= widest]
    middle = face.x + face.w / 2
    left = [eye for eye in plausible if eye.x + eye.w / 2 < middle]
    right = [eye for eye in plausible if eye.x + eye.w / 2 >= middle]
    if not left or not right:
        return None
    left_eye = max(left, key=lambda eye: (eye.w, -eye.y))
    right_eye = max(right, key=lambda eye: (eye.w, -eye.y))
    level_difference = abs((left_eye.y + left_eye.h / 2) - (right_eye.y + right_eye.h / 2))
    if level_difference > EYE_LEVEL_TOLERANCE * face.w:
        return None
    return left_eye, right_eye


def face_layout(detection: FaceDetection, shape: tuple[int, ...]) -> FaceLayout:
    """Regions, under-eyes and the measurable skin area of a face on a canvas of ``shape``."""
    face = detection.face
    eyes = detection.eyes or tuple(face.part(*fractions) for fractions in DEFAULT_EYE_FRACTIONS)
    under_eyes = tuple(eye.part(*UNDER_EYE_FRACTIONS) for eye in eyes)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    skin_area = _ellipse(rows, cols, face.part(*_ellipse_box(FACE_ELLIPSE_FRACTIONS)))
    skin_area &= ~_ellipse(rows, cols, face.part(*_ellipse_box(MOUTH_ELLIPSE_FRACTIONS)))
    skin_area &= ~face.part(*BROW_BAND_FRACTIONS).mask(shape)
    skin_area &= ~face.part(*NOSTRIL_BAND_FRACTIONS).mask(shape)
    for eye in eyes:
        skin_area &= ~eye.part(*EYE_EXCLUSION_FRACTIONS).mask(shape)
    regions = {name: face.part(*fractions) for name, fractions in REGION_FRACTIONS.items()}
    core_area = np.zeros(shape[:2], dtype=bool)
    for name in CORE_REGIONS:
        core_area |= regions[name].mask(shape)
    return FaceLayout(
        face=face,
        eyes_found=detection.eyes is not None,
        regions=regions,
        under_eyes=under_eyes,
        skin_area=skin_area,
        core_area=core_area & skin_area,
    )


def _ellipse_box(fractions: tuple[float, float, float, float]) -> tuple[float, ...]:
    centre_x, centre_y, half_w, half_h = fractions
    return centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h


def _ellipse(rows: np.ndarray, cols: np.ndarray, box: Box) -> np.ndarray:
    centre_x, centre_y = box.x + box.w / 2, box.y + box.h / 2
    return ((cols - centre_x) / (box.w / 2)) ** 2 + ((rows - centre_y) / (box.h / 2)) ** 2 <= 1
