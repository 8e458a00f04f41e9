"""Finding the face and eyes (OpenCV's bundled Haar cascades) and the regions drawn from them.

    detection = detect_face(gray)       # FaceDetection in the grey image's pixels, or None
    layout = face_layout(detection.scaled(...))

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

FACE_CASCADE_FILE = "haarcascade_frontalface_default.xml"
EYE_CASCADE_FILE = "haarcascade_eye.xml"
# Faces are searched on a copy this size: fast, and the same window scales whatever the
# photo's resolution, so a photo and its upscaled copy give the same box.
DETECTION_LONG_SIDE_PX = 640
# A face narrower than this share of the photo's short side is too small to analyse.
FACE_MIN_SHORT_SIDE_FRACTION = 0.08
FACE_SCALE_FACTOR = 1.1
FACE_MIN_NEIGHBORS = 5
# Eyes are searched in the face's upper band, resized so the face is this wide: the eye
# cascade's 20 px window then fits eyes of any photo.
EYE_SEARCH_FACE_WIDTH_PX = 200
EYE_MIN_NEIGHBORS = 5

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


# detectMultiScale keeps per-call buffers in the classifier, so one instance is not safe
# to share between threads; a lock per cascade keeps the once-per-process load.
_cascade_locks = {FACE_CASCADE_FILE: threading.Lock(), EYE_CASCADE_FILE: threading.Lock()}


@functools.cache
def _cascade(filename: str) -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / filename
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        raise RuntimeError(f"OpenCV's {filename} is missing from {path.parent}")
    return classifier


def _detect(filename: str, gray: np.ndarray, **options) -> list[tuple[int, int, int, int, int]]:
    """Boxes (x, y, w, h) with their votes: how many neighbouring windows agreed."""
    with _cascade_locks[filename]:
        boxes, votes = _cascade(filename).detectMultiScale2(gray, **options)
    return [(*(int(v) for v in box), int(vote)) for box, vote in zip(boxes, votes, strict=True)]


def detect_face(gray: np.ndarray) -> FaceDetection | None:
    """The most certain frontal face and, when both are found, its eyes (in ``gray``'s pixels).

    The face with the most votes wins, not the largest: a false detection (a collar, a
    pattern) can be bigger than the face but gathers far fewer agreeing windows.
    """
    small = resize_long_side(gray, DETECTION_LONG_SIDE_PX)
    factor = gray.shape[1] / small.shape[1]
    min_side = max(24, round(min(small.shape) * FACE_MIN_SHORT_SIDE_FRACTION))
    faces = _detect(
        FACE_CASCADE_FILE,
        small,
        scaleFactor=FACE_SCALE_FACTOR,
        minNeighbors=FACE_MIN_NEIGHBORS,
        minSize=(min_side, min_side),
    )
    if not faces:
        return None
    x, y, w, h, _ = max(faces, key=lambda box: (box[4], box[2] * box[3], -box[0], -box[1]))
    face = Box(x * factor, y * factor, w * factor, h * factor)
    return FaceDetection(face, _detect_eyes(gray, face))


def _detect_eyes(gray: np.ndarray, face: Box) -> tuple[Box, Box] | None:
    band = face.part(0.0, 0.12, 1.0, 0.62)
    rows, cols = band.slices(gray.shape)
    roi = gray[rows, cols]
    if roi.size == 0:
        return None
    factor = EYE_SEARCH_FACE_WIDTH_PX / roi.shape[1]
    roi = cv2.resize(roi, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    candidates = [
        Box(x / factor + cols.start, y / factor + rows.start, w / factor, h / factor)
        for x, y, w, h, _ in _detect(
            EYE_CASCADE_FILE, roi, scaleFactor=1.1, minNeighbors=EYE_MIN_NEIGHBORS
        )
    ]
    # An eye is 0.12-0.40 face widths wide; the biggest plausible one on each side wins.
    plausible = [eye for eye in candidates if 0.12 * face.w <= eye.w <= 0.40 * face.w]
    middle = face.x + face.w / 2
    left = [eye for eye in plausible if eye.x + eye.w / 2 < middle]
    right = [eye for eye in plausible if eye.x + eye.w / 2 >= middle]
    if not left or not right:
        return None
    left_eye = max(left, key=lambda eye: (eye.w, -eye.y))
    right_eye = max(right, key=lambda eye: (eye.w, -eye.y))
    if abs((left_eye.y + left_eye.h / 2) - (right_eye.y + right_eye.h / 2)) > 0.15 * face.w:
        return None
    return left_eye, right_eye


def face_layout(detection: FaceDetection, shape: tuple[int, ...]) -> FaceLayout:
    """Regions, under-eyes and the measurable skin area of a face on a canvas of ``shape``."""
    face = detection.face
    eyes = detection.eyes or tuple(face.part(*fractions) for fractions in DEFAULT_EYE_FRACTIONS)
    # Dark circles sit in the band just under the eye, about a third of an eye box high.
    under_eyes = tuple(eye.part(0.15, 0.78, 0.85, 1.10) for eye in eyes)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    skin_area = _ellipse(rows, cols, face.part(*_ellipse_box(FACE_ELLIPSE_FRACTIONS)))
    skin_area &= ~_ellipse(rows, cols, face.part(*_ellipse_box(MOUTH_ELLIPSE_FRACTIONS)))
    skin_area &= ~face.part(*BROW_BAND_FRACTIONS).mask(shape)
    skin_area &= ~face.part(*NOSTRIL_BAND_FRACTIONS).mask(shape)
    for eye in eyes:
        skin_area &= ~eye.part(-0.1, -0.05, 1.1, 0.8).mask(shape)
    regions = {name: face.part(*fractions) for name, fractions in REGION_FRACTIONS.items()}
    core_area = np.zeros(shape[:2], dtype=bool)
    for name in ("nose", "left_cheek", "right_cheek"):
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
