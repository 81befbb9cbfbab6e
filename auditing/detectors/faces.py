"""Faces in pixels, with detectors whose models ship inside their wheels (nothing downloaded).

Measured on scikit-image's sample photos (see bench/pii.py): NudeNet 3.4.2's detector (its
ONNX model is in the wheel; it labels FACE_FEMALE / FACE_MALE among body parts) found both the
astronaut and the cameraman with no hit on coffee, coins or the cat. OpenCV's Haar cascade
(opencv-python-headless 4.x; 5.x dropped the cascades) missed the cameraman, and its default
frontal cascade fired on coins; it stays as a second, permissively licensed backend. YuNet
needs an ONNX file no registry package ships, and mediapipe's BlazeFace needs numpy<2.

NudeNet's bundled LICENSE is AGPL-3.0 (its metadata says MIT): keep the backend swappable.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from auditing.detectors.pii_hit import Box, PiiHit

FACE_ENTITY = "FACE"
PIXELS_FIELD = "pixels"
DEFAULT_BACKEND = "nudenet"
# NudeNet scored the two real faces 0.58 and 0.72 and nothing above 0.3 on the faceless photos.
NUDENET_MIN_SCORE = 0.4
NUDENET_FACE_LABELS = frozenset({"FACE_FEMALE", "FACE_MALE"})


class FaceDetector(Protocol):
    name: str

    def detect(self, bgr: np.ndarray) -> list[tuple[Box, float]]: ...


class NudeNetFaces:
    """NudeNet's YOLO body-part detector (320 px input), keeping only its face labels."""

    name = "nudenet"

    def __init__(self, *, threads: int = 1) -> None:
        import nudenet
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # One thread per worker: audit throughput scales by processes, not threads.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(Path(nudenet.__file__).parent / "320n.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._input_name = self._session.get_inputs()[0].name
        self._size = 320

    def detect(self, bgr: np.ndarray) -> list[tuple[Box, float]]:
        # nudenet's own pre/post-processing (pinned 3.4.2), with our single-threaded session.
        from nudenet.nudenet import _postprocess, _read_image

        blob, x_ratio, y_ratio, x_pad, y_pad, width, height = _read_image(bgr, self._size)
        outputs = self._session.run(None, {self._input_name: blob})
        detections = _postprocess(outputs, x_pad, y_pad, x_ratio, y_ratio, width, height, self._size, self._size)
        # The gender label is dropped on purpose: a face is personal data either way, and a
        # guessed gender is not something the platform should record about anyone.
        return [
            (tuple(int(v) for v in d["box"]), float(d["score"]))  # type: ignore[misc]
            for d in detections
            if d["class"] in NUDENET_FACE_LABELS and d["score"] >= NUDENET_MIN_SCORE
        ]


class HaarFaces:
    """OpenCV's frontal-face Haar cascade (alt2: no false positive on coins, unlike default)."""

    name = "haar"
    min_neighbours = 5

    def __init__(self) -> None:
        import cv2

        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_alt2.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"cannot load {path} (opencv-python-headless 5.x ships no cascades)")

    def detect(self, bgr: np.ndarray) -> list[tuple[Box, float]]:
        import cv2

        grey = cv2.equalizeHist(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        smallest = max(24, min(grey.shape) // 20)
        boxes, neighbours = self._cascade.detectMultiScale2(
            grey, scaleFactor=1.1, minNeighbors=self.min_neighbours, minSize=(smallest, smallest)
        )
        # A cascade has no probability; more agreeing neighbours means a more certain face.
        return [
            (tuple(int(v) for v in box), round(float(n) / (float(n) + self.min_neighbours), 4))  # type: ignore[misc]
            for box, n in zip(boxes, np.ravel(neighbours), strict=True)
        ]


BACKENDS: dict[str, type[NudeNetFaces] | type[HaarFaces]] = {"nudenet": NudeNetFaces, "haar": HaarFaces}


@cache
def face_detector(backend: str = DEFAULT_BACKEND) -> FaceDetector:
    """The shared detector for `backend` (its model is loaded once per process)."""
    try:
        return BACKENDS[backend]()
    except KeyError:
        raise ValueError(f"unknown face detector {backend!r}; known: {', '.join(BACKENDS)}") from None


def find_faces(image: Image.Image, *, backend: str = DEFAULT_BACKEND) -> list[PiiHit]:
    """Every face found, as a box (left, top, width, height) in image pixels and a score."""
    detector = face_detector(backend)
    return [
        PiiHit(
            entity_type=FACE_ENTITY,
            start=0,
            end=0,
            score=round(score, 4),
            text="",
            field=PIXELS_FIELD,
            box=box,
            details={"detector": detector.name},
        )
        for box, score in detector.detect(to_bgr(image))
    ]


def to_bgr(image: Image.Image) -> np.ndarray:
    rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])
