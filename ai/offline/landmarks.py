"""The face and its 468 landmarks: MediaPipe's BlazeFace detector and Face Mesh model,
run by Google's LiteRT interpreter.

    face = find_face(rgb)  # FaceLandmarks in ``rgb``'s pixels, or None

Both models ship with this repository (``ai/offline/models``, Apache 2.0, taken from the
``mediapipe==0.10.21`` wheel on PyPI; see the README there): nothing is downloaded at
run time. MediaPipe itself is not installed: its wheel pins ``numpy<2`` and pulls in
jax, matplotlib and opencv-contrib-python, while ``ai-edge-litert`` runs the same
``.tflite`` files with numpy, protobuf and flatbuffers alone. The graph MediaPipe wraps
around them (anchors, the crop rotated upright, the second pass on the landmarks' own
box) is rebuilt here after its ``face_detection_short_range`` and ``face_landmark_cpu``
graphs.

A face is reported only when both models agree: the detector finds one and the mesh
model, shown that crop, says it holds a face. A pattern in a coffee cup can fool one
of them, rarely both. The same holds for the other faces a photo may show (a friend in
a selfie, a child on a lap, a poster behind): ``FaceLandmarks.other_faces`` counts
those the detector sees beside the analysed one, of comparable size, that the mesh
model accepts too.
"""

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-untyped]  # untyped

from dermalens_site.concurrency import native_lock

MODELS_DIR = Path(__file__).resolve().parent / "models"
DETECTOR_FILE = "face_detection_short_range.tflite"
MESH_FILE = "face_landmark.tflite"
# One thread per interpreter: a worker analyses one photo at a time, and the web and
# analysis processes share two cores.
INTERPRETER_THREADS = 1

# BlazeFace short range: 128 px input in [-1, 1]; SSD anchors of its graph (strides
# 8, 16, 16, 16; two anchors per cell and layer; all of size 1).
DETECTOR_INPUT_PX = 128
DETECTOR_STRIDES = (8, 16, 16, 16)
DETECTOR_ANCHORS_PER_CELL = 2
# MediaPipe's own default minimum detection confidence.
MIN_DETECTION_SCORE = 0.5
# Detections overlapping the best one by more than this share are the same face.
SAME_FACE_IOU = 0.3
# Another face counts when its box is at least this share of the analysed face's width:
# a friend beside the user or a child on a lap (60 % of an adult's face and more), not a
# passer-by far behind, whose skin could not be taken for the user's anyway.
MIN_OTHER_FACE_WIDTH_SHARE = 1 / 3
# The whole image's pass sees faces whose box is down to about this share of its long
# side (the detector's input is 128 px); smaller ones only the parts' pass sees.
WHOLE_IMAGE_MIN_FACE_SHARE = 0.1
# Another face seen only in a part must be this sure: in the parts of the sample
# portrait (shifted 4 px, or darkened by half) the detector scores a patch of the
# spacesuit 0.51-0.52, and the mesh model accepts it (presence 0.87-0.98); faces score
# 0.85-0.95 there.
MIN_PART_OTHER_FACE_SCORE = 0.75
# The mesh model: a 192 px upright crop in [0, 1]; its face flag (a logit) must say
# "face" at least this surely. MediaPipe tracks with 0.5; a still photo is scored once,
# so it asks for more.
MESH_INPUT_PX = 192
MIN_FACE_PRESENCE = 0.8
# The crop around a face is its box (detector's, or the landmarks') enlarged this much,
# square (MediaPipe's face_detection_front_detection_to_roi and landmarks_to_roi).
DETECTION_ROI_SCALE = 1.5
LANDMARKS_ROI_SCALE = 1.5
# The mesh is run again on its own landmarks' crop until the crop moves (centre or
# side) by at most this share of its side, at most this many times (a few ms each).
SETTLED_CROP_SHARE = 0.01
MAX_MESH_PASSES = 8
# Landmarks by their index in the canonical mesh (person's right eye is on the image's left).
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
RIGHT_FACE_EDGE, LEFT_FACE_EDGE = 234, 454
FOREHEAD_TOP, CHIN_BOTTOM = 10, 152
RIGHT_EYE_LIDS = (159, 145, 33, 133)  # upper, lower, outer corner, inner corner
LEFT_EYE_LIDS = (386, 374, 263, 362)


@dataclass(frozen=True)
class FaceLandmarks:
    points: np.ndarray  # (468, 3) float32: x, y in pixels; z depth, in x's units
    detection_score: float
    presence: float
    other_faces: int = 0  # other faces in the photo at least a third of this one's width

    def scaled(self, factor: float, *, dx: float = 0.0, dy: float = 0.0) -> "FaceLandmarks":
        """The landmarks after the image is shifted by (dx, dy) then scaled by ``factor``."""
        points = self.points.copy()
        points[:, 0] = (points[:, 0] + dx) * factor
        points[:, 1] = (points[:, 1] + dy) * factor
        points[:, 2] *= factor
        return FaceLandmarks(points, self.detection_score, self.presence, self.other_faces)

    @property
    def width_px(self) -> float:
        """The face's width: from one side of the face to the other, at the cheekbones."""
        return float(
            np.hypot(*(self.points[LEFT_FACE_EDGE, :2] - self.points[RIGHT_FACE_EDGE, :2]))
        )

    def pose_deg(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees, 0 for a face looking straight at the camera.

        Read from the mesh's own depth: yaw is how far the line between the face's sides
        turns out of the image plane, pitch the line from forehead to chin; roll is the
        slope of the line between the eyes' outer corners.
        """
        right, left = self.points[RIGHT_FACE_EDGE], self.points[LEFT_FACE_EDGE]
        top, bottom = self.points[FOREHEAD_TOP], self.points[CHIN_BOTTOM]
        across = float(np.hypot(left[0] - right[0], left[1] - right[1]))
        down = float(np.hypot(bottom[0] - top[0], bottom[1] - top[1]))
        yaw = math.degrees(math.atan2(float(left[2] - right[2]), across))
        pitch = math.degrees(math.atan2(float(bottom[2] - top[2]), down))
        eye_r, eye_l = self.points[RIGHT_EYE_OUTER], self.points[LEFT_EYE_OUTER]
        roll = math.degrees(math.atan2(float(eye_l[1] - eye_r[1]), float(eye_l[0] - eye_r[0])))
        return yaw, pitch, roll

    def eye_openness(self) -> tuple[float, float]:
        """Each eye's lid gap over its width (about 0.3 open, under 0.1 closed)."""
        return cast(
            tuple[float, float],
            tuple(self._openness(lids) for lids in (RIGHT_EYE_LIDS, LEFT_EYE_LIDS)),
        )

    def _openness(self, lids: tuple[int, int, int, int]) -> float:
        upper, lower, outer, inner = (self.points[i, :2] for i in lids)
        width = float(np.hypot(*(outer - inner)))
        return float(np.hypot(*(upper - lower))) / max(width, 1e-3)


@dataclass(frozen=True)
class _Roi:
    """A square crop, rotated: centre, side (px) and angle (radians, image's x towards y)."""

    x: float
    y: float
    side: float
    angle: float

    def crop_to_image(self, size: int) -> np.ndarray:
        """The 2x3 affine matrix from crop pixels (``size`` square) to image pixels."""
        k = self.side / size
        cos, sin = math.cos(self.angle) * k, math.sin(self.angle) * k
        half = size / 2
        return np.array(
            [
                [cos, -sin, self.x - half * cos + half * sin],
                [sin, cos, self.y - half * sin - half * cos],
            ],
            dtype=np.float64,
        )


class _Model:
    """One LiteRT interpreter, loaded once per process; ``invoke`` is guarded by a lock
    because an interpreter keeps its tensors between calls."""

    def __init__(self, filename: str) -> None:
        self.interpreter = Interpreter(
            model_path=str(MODELS_DIR / filename), num_threads=INTERPRETER_THREADS
        )
        self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.outputs = [d["index"] for d in self.interpreter.get_output_details()]
        self.lock = native_lock()  # the CPU threads share the interpreter

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        with self.lock:
            self.interpreter.set_tensor(self.input_index, tensor[None].astype(np.float32))
            self.interpreter.invoke()
            return [self.interpreter.get_tensor(index)[0].copy() for index in self.outputs]


@functools.cache
def _model(filename: str) -> _Model:
    return _Model(filename)


@functools.cache
def _anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1], in the detector's output order."""
    centres = []
    layer = 0
    while layer < len(DETECTOR_STRIDES):
        stride = DETECTOR_STRIDES[layer]
        # Consecutive layers with the same stride share one grid (as MediaPipe's
        # SsdAnchorsCalculator does): their anchors come cell by cell.
        repeats = 0
        while layer < len(DETECTOR_STRIDES) and DETECTOR_STRIDES[layer] == stride:
            repeats += DETECTOR_ANCHORS_PER_CELL
            layer += 1
        cells = math.ceil(DETECTOR_INPUT_PX / stride)
        for row in range(cells):
            for col in range(cells):
                centres.extend([((col + 0.5) / cells, (row + 0.5) / cells)] * repeats)
    return np.array(centres, dtype=np.float32)


def load_models() -> None:
    """Load both models now (a worker's start-up) rather than at the first photo."""
    _model(DETECTOR_FILE)
    _model(MESH_FILE)
    _anchors()


def find_face(rgb: np.ndarray) -> FaceLandmarks | None:
    """The most certain face in the RGB ``uint8`` image and its landmarks, or None.

    The short-range detector is made for selfies: on the whole image it finds faces
    down to about a tenth of the long side. A photo taken from further away (by someone
    else, or in a mirror) holds a smaller face that a phone's resolution still makes
    worth analysing, so when the whole image shows none that the mesh model accepts,
    the detector looks again in overlapping halves of it (``_detect_in_parts``): faces
    half that size.

    Other faces are counted among the whole image's right-way-up detections (its pass
    has already scored them) and, when a face a third of the analysed one's width would
    be too small for that pass (two people side by side, each a tenth of the photo's
    width), among the parts' too: about 12 ms more on such photos, none on a selfie.
    """
    upright = _detect(rgb)
    # The parts' pass runs at most once: for the face (none in the whole image) and
    # then for the other faces.
    in_parts = functools.cache(functools.partial(_detect_in_parts, rgb))
    found = next(
        (
            (score, roi, mesh)
            for score, roi in _candidates(rgb, upright, in_parts)
            if (mesh := _mesh(rgb, roi)) is not None
        ),
        None,
    )
    if found is None:
        return None
    score, roi, (points, _) = found
    detections = upright
    smallest_other_px = MIN_OTHER_FACE_WIDTH_SHARE * roi.side / DETECTION_ROI_SCALE
    if smallest_other_px < WHOLE_IMAGE_MIN_FACE_SHARE * max(rgb.shape[:2]):
        detections = [*upright, *(d for d in in_parts() if d[0] >= MIN_PART_OTHER_FACE_SCORE)]
    other_faces = _count_other_faces(rgb, roi, detections)
    settled = _settled_mesh(rgb, points)
    if settled is None:
        return None
    points, presence = settled
    return FaceLandmarks(points.astype(np.float32), score, presence, other_faces)


def _settled_mesh(rgb: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The mesh run again on the crop its own landmarks give, until that crop settles.

    The landmarks' crop is steadier than the detector's box, so near-identical photos
    give near-identical landmarks. One pass is what MediaPipe runs per video frame, and
    the next frame starts from it; a still photo has no next frame. Where the detector's
    box is far too large, one pass is not enough: the portrait's face 160 px wide in a
    1,600 px photo was boxed 301 px (192 px at 192 px wide), and after one pass the
    mesh was still 11 % too wide (114.7 px, then 105.7, 104.6, 103.2), its under-eye
    regions on the lower lids: dark circles scored 23 where the face a little larger
    scored 92. Usually the crop settles (moves by 1 % or less) at the second pass.
    """
    crop = _landmarks_roi(points)
    for _ in range(MAX_MESH_PASSES):
        refined = _mesh(rgb, crop)
        if refined is None:
            return None
        points, presence = refined
        next_crop = _landmarks_roi(points)
        moved = max(
            abs(next_crop.side - crop.side),
            float(np.hypot(next_crop.x - crop.x, next_crop.y - crop.y)),
        )
        if moved <= SETTLED_CROP_SHARE * crop.side:
            break
        crop = next_crop
    return points, presence


def _count_other_faces(rgb: np.ndarray, face: _Roi, detections: list[tuple[float, _Roi]]) -> int:
    """How many of ``detections`` are faces other than ``face``: not overlapping it, at
    least MIN_OTHER_FACE_WIDTH_SHARE of its width, and accepted by the mesh model too:
    on the portrait flipped upside down the detector also scores two places beside the
    face (0.69 and 0.51), which the mesh refuses. Its pass, a few milliseconds, is
    run only when a photo shows such a detection. A face seen in two overlapping parts
    is one face."""
    counted: list[_Roi] = []
    for _, other in detections:
        if (
            other.side >= MIN_OTHER_FACE_WIDTH_SHARE * face.side
            and all(_square_iou(seen, other) <= SAME_FACE_IOU for seen in (face, *counted))
            and _mesh(rgb, other) is not None
        ):
            counted.append(other)
    return len(counted)


def _detect(rgb: np.ndarray, quarter_turns: int = 0) -> list[tuple[float, _Roi]]:
    """Every face in ``rgb`` turned ``quarter_turns`` times anticlockwise (numpy's
    ``rot90``), in ``rgb``'s own pixels, the most certain first.

    The detector scores each of its 896 anchors; those above MIN_DETECTION_SCORE are
    grouped by non-maximum suppression (the most certain left takes every detection
    overlapping it by more than SAME_FACE_IOU: one face) and each group averaged,
    weighted by score (MediaPipe's weighted non-maximum suppression): steadier than the
    single best anchor. A few groups at most, over a few hundred anchors: microseconds.
    """
    height, width = rgb.shape[:2]
    side = max(height, width)
    # Letterboxed into a square, as MediaPipe does (keep the aspect ratio, pad).
    factor = DETECTOR_INPUT_PX / side
    small = cv2.resize(
        rgb,
        (max(1, round(width * factor)), max(1, round(height * factor))),
        interpolation=cv2.INTER_AREA,
    )
    square = np.zeros((DETECTOR_INPUT_PX, DETECTOR_INPUT_PX, 3), dtype=np.float32)
    top = (DETECTOR_INPUT_PX - small.shape[0]) // 2
    left = (DETECTOR_INPUT_PX - small.shape[1]) // 2
    square[top : top + small.shape[0], left : left + small.shape[1]] = small
    # The 128 px square is turned, not the photo: a few microseconds.
    turned = np.rot90(square, quarter_turns)
    regressors, classificators = _model(DETECTOR_FILE).run(turned / 127.5 - 1.0)
    scores = 1.0 / (1.0 + np.exp(-np.clip(classificators[:, 0].astype(np.float64), -50, 50)))
    anchors = _anchors()
    boxes = regressors[:, :4] / DETECTOR_INPUT_PX
    centres = boxes[:, :2] + anchors

    def to_image(x: float, y: float) -> tuple[float, float]:
        x, y = _turned_back(x, y, quarter_turns)
        return (x * DETECTOR_INPUT_PX - left) / factor, (y * DETECTOR_INPUT_PX - top) / factor

    def averaged(same: np.ndarray) -> _Roi:
        weights = scores[same][:, None]
        keypoints = (regressors[same, 4:].reshape(-1, 6, 2) / DETECTOR_INPUT_PX) + anchors[
            same, None
        ]
        box = np.concatenate([centres[same], boxes[same, 2:]], axis=1)
        box = (box * weights).sum(axis=0) / weights.sum()
        keypoints = (keypoints * weights[:, None]).sum(axis=0) / weights.sum()
        centre_x, centre_y = to_image(box[0], box[1])
        box_side = max(box[2], box[3]) * DETECTOR_INPUT_PX / factor
        (right_x, right_y), (left_x, left_y) = (to_image(*point) for point in keypoints[:2])
        angle = math.atan2(left_y - right_y, left_x - right_x)
        return _Roi(centre_x, centre_y, box_side * DETECTION_ROI_SCALE, angle)

    found: list[tuple[float, _Roi]] = []
    left_over = scores >= MIN_DETECTION_SCORE
    while left_over.any():
        best = int(np.argmax(np.where(left_over, scores, -1.0)))
        same = left_over & (_iou(centres, boxes[:, 2:], best) > SAME_FACE_IOU)
        left_over &= ~same
        found.append((float(scores[best]), averaged(same)))
    return found


def _candidates(
    rgb: np.ndarray,
    upright: list[tuple[float, _Roi]],
    in_parts: Callable[[], list[tuple[float, _Roi]]],
) -> Iterator[tuple[float, _Roi]]:
    """Where a face may be, the likeliest first: the whole image's detections (``upright``:
    its right-way-up pass, already run), then (only if the mesh model refuses those or
    there are none) the parts' (``in_parts``, run when first asked)."""
    yield from _detect_turned(rgb, upright)
    yield from in_parts()


def _detect_turned(rgb: np.ndarray, upright: list[tuple[float, _Roi]]) -> list[tuple[float, _Roi]]:
    """``_detect`` on the image turned by 0 (``upright``, already run), 90, 180 and 270
    degrees: each turn's most certain detection, in ``rgb``'s pixels, the most certain
    first.

    On a face upside down (or on its side) the detector's eye keypoints are wrong, and
    the mesh model, shown the crop they give, lays an upright mesh over it and accepts
    it: the mesh's own geometry then says "upright", and no pose check can see the
    inversion. The detector is far surer of a face the right way up (the sample
    portrait: 0.92 upright, 0.60 upside down), so the turn it is surest in gives the
    crop's true angle; the mesh then fits the face, and the roll measured from it says
    how the face lies in the photo. The other turns follow, for a face the mesh model
    refuses in the likeliest turn (one cut by the photo's edge). Three more passes of
    the 128 px detector, on its square turned (not the photo): about 5 ms more on the
    512 px portrait, whose analysis takes about 50 ms.
    """
    found = [upright, *(_detect(rgb, quarter_turns) for quarter_turns in range(1, 4))]
    return sorted(
        (detections[0] for detections in found if detections),
        key=lambda candidate: -candidate[0],
    )


def _turned_back(x: float, y: float, quarter_turns: int) -> tuple[float, float]:
    """A point of the detector's square (0-1 a side) turned ``quarter_turns`` times
    anticlockwise, in the square before it was turned."""
    return {0: (x, y), 1: (1 - y, x), 2: (1 - x, 1 - y), 3: (y, 1 - x)}[quarter_turns % 4]


def _detect_in_parts(rgb: np.ndarray) -> list[tuple[float, _Roi]]:
    """``_detect`` in squares of half the long side, overlapping by half (six for a 4:3
    photo): each part's detection, in ``rgb``'s pixels, the most certain first. A face
    seen in two parts is two candidates; a pattern the mesh model then refuses must not
    hide a face in another part, so the caller tries them in turn."""
    height, width = rgb.shape[:2]
    side = max(1, math.ceil(max(height, width) / 2))
    stride = max(1, side // 2)
    found: list[tuple[float, _Roi]] = []
    for top in _part_starts(height, side, stride):
        for left in _part_starts(width, side, stride):
            detections = _detect(np.ascontiguousarray(rgb[top : top + side, left : left + side]))
            if detections:
                score, roi = detections[0]
                found.append((score, _Roi(roi.x + left, roi.y + top, roi.side, roi.angle)))
    return sorted(found, key=lambda candidate: -candidate[0])


def _part_starts(length: int, side: int, stride: int) -> list[int]:
    """Where parts ``side`` long start so that, ``stride`` apart, they cover ``length``."""
    if length <= side:
        return [0]
    starts = list(range(0, length - side, stride))
    return [*starts, length - side]


def _iou(centres: np.ndarray, sizes: np.ndarray, best: int) -> np.ndarray:
    low, high = centres - sizes / 2, centres + sizes / 2
    overlap = np.clip(np.minimum(high, high[best]) - np.maximum(low, low[best]), 0, None)
    intersection = overlap[:, 0] * overlap[:, 1]
    areas = sizes[:, 0] * sizes[:, 1]
    return cast(np.ndarray, intersection / np.maximum(areas + areas[best] - intersection, 1e-9))


def _square_iou(first: _Roi, second: _Roi) -> float:
    """The overlap of two crops' upright squares, over their union (0 to 1)."""
    reach = (
        min(first.x + first.side / 2, second.x + second.side / 2)
        - max(first.x - first.side / 2, second.x - second.side / 2),
        min(first.y + first.side / 2, second.y + second.side / 2)
        - max(first.y - first.side / 2, second.y - second.side / 2),
    )
    intersection = max(reach[0], 0.0) * max(reach[1], 0.0)
    return intersection / max(first.side**2 + second.side**2 - intersection, 1e-9)


def _mesh(rgb: np.ndarray, roi: _Roi) -> tuple[np.ndarray, float] | None:
    """Landmarks (468 x 3, image pixels) in the crop ``roi`` and the face presence."""
    to_image = roi.crop_to_image(MESH_INPUT_PX)
    crop = cv2.warpAffine(
        rgb,
        to_image,
        (MESH_INPUT_PX, MESH_INPUT_PX),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    landmarks, face_flag = _model(MESH_FILE).run(crop.astype(np.float32) / 255.0)
    presence = float(1.0 / (1.0 + math.exp(-float(np.clip(face_flag.reshape(-1)[0], -100, 100)))))
    if presence < MIN_FACE_PRESENCE:
        return None
    points = landmarks.reshape(-1, 3).astype(np.float64)
    xy = points[:, :2] @ to_image[:, :2].T + to_image[:, 2]
    z = points[:, 2] * roi.side / MESH_INPUT_PX
    return np.column_stack([xy, z]), presence


def _landmarks_roi(points: np.ndarray) -> _Roi:
    right, left = points[RIGHT_EYE_OUTER], points[LEFT_EYE_OUTER]
    angle = math.atan2(left[1] - right[1], left[0] - right[0])
    # The landmarks' box in the face's own upright frame, then back to the image.
    cos, sin = math.cos(angle), math.sin(angle)
    upright = points[:, :2] @ np.array([[cos, -sin], [sin, cos]])
    low, high = upright.min(axis=0), upright.max(axis=0)
    middle = (low + high) / 2
    centre = np.array([[cos, -sin], [sin, cos]]) @ middle
    side = float(max(high - low)) * LANDMARKS_ROI_SCALE
    return _Roi(float(centre[0]), float(centre[1]), side, angle)
