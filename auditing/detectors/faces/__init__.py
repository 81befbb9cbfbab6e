"""Faces in pixels, with detectors whose models ship inside their wheels (nothing downloaded).

Measured on scikit-image's sample photos (see bench/pii.py): NudeNet 3.4.2's detector (its
ONNX model is in the wheel; it labels FACE_FEMALE / FACE_MALE among body parts) found both the
astronaut and the cameraman with no hit on coffee, coins or the cat. OpenCV's Haar cascade
(opencv-python-headless 4.x; 5.x dropped the cascades) missed the cameraman, and its default
frontal cascade fired on coins; it stays as a second, permissively licensed backend. YuNet
needs an ONNX file no registry package ships, and mediapipe's BlazeFace needs numpy<2.

NudeNet's bundled LICENSE is AGPL-3.0 (its metadata says MIT): keep the backend swappable.
Backends (CLEANROOM_PII['FACE_BACKEND']): `nudenet` (faces/nudenet.py), `haar` (faces/haar.py),
or the dotted path of a FaceDetector subclass.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image

from auditing.detectors.faces.base import FaceDetector
from auditing.detectors.pii_hit import PiiHit
from core.registry import BackendRegistry

FACE_ENTITY = "FACE"
PIXELS_FIELD = "pixels"
DEFAULT_BACKEND = "nudenet"

FACE_DETECTORS: BackendRegistry[FaceDetector] = BackendRegistry(
    kind="face detector",
    setting="CLEANROOM_PII['FACE_BACKEND']",
    base=FaceDetector,
    builtins={
        "nudenet": "auditing.detectors.faces.nudenet.NudeNetFaces",
        "haar": "auditing.detectors.faces.haar.HaarFaces",
    },
)


@cache
def face_detector(backend: str = DEFAULT_BACKEND) -> FaceDetector:
    """The shared detector for `backend`, a short name or a dotted path (its model is loaded once per process)."""
    return FACE_DETECTORS.load(backend)()


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
