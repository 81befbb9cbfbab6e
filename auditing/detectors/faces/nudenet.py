"""The `nudenet` face backend: NudeNet's YOLO body-part detector, keeping only its face labels.

The model was trained at 320 px, and one 320 px pass over a 2500 px working copy shrinks a
120 px face to 15 px: too small to be found. Its ONNX graph takes any input size (a multiple of
32), so an image larger than twice the model's size gets a second, finer pass at its own size,
up to 1920 px (a 2500 px working copy is reduced 1.3x: a 40 px face keeps 30 px). Both passes'
faces are merged by non-maximum suppression, at the same 0.4 threshold.

Measured on the scene set (auditing/evaluation/pii_set.py: 47 faces 40-160 px wide in 1500-2500
px scenes, 12 faceless scenes; figures in docs/auditors.md), the astronaut's and cameraman's
faces found: 2 of 34 with the 320 px pass alone, 22 with the finer pass capped at 1280 px, 31
capped at 1920 (every scene fed whole at 2528 px: 33); no faceless scene had a hit with any. The
cap is the cost bound: one pass over at most 1920 x 1920 px, ~36 times the 320 px pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from auditing.detectors.faces.base import FaceDetector
from auditing.detectors.pii_hit import Box

# NudeNet scored the two real faces 0.58 and 0.72 and nothing above 0.3 on the faceless photos.
NUDENET_MIN_SCORE = 0.4
NUDENET_FACE_LABELS = frozenset({"FACE_FEMALE", "FACE_MALE"})
MODEL_SIZE = 320
# The fine pass runs on images larger than FINE_FROM px, at their own size up to FINE_MAX_SIZE
# (the working copy is at most 2500 px across; see the module docstring for the cap's trade-off).
FINE_FROM = 2 * MODEL_SIZE
FINE_MAX_SIZE = 1920
# Boxes from the two passes overlapping more than this are one face (NudeNet's own NMS value).
MERGE_IOU = 0.45


def fine_pass_size(width: int, height: int) -> int | None:
    """The model input size of the finer pass for an image this big, or None when 320 px suffices."""
    longest = max(width, height)
    if longest <= FINE_FROM:
        return None  # the 320 px pass already sees it reduced at most 2x
    return min(FINE_MAX_SIZE, -(-longest // 32) * 32)


class NudeNetFaces(FaceDetector):
    """NudeNet's YOLO body-part detector (320 px input, and a finer pass on large images)."""

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

    def detect(self, bgr: np.ndarray) -> list[tuple[Box, float]]:
        faces = self._pass(bgr, MODEL_SIZE)
        fine = fine_pass_size(bgr.shape[1], bgr.shape[0])
        if fine is None:
            return faces
        return _merged(faces + self._pass(bgr, fine))

    def _pass(self, bgr: np.ndarray, size: int) -> list[tuple[Box, float]]:
        # nudenet's own pre/post-processing (pinned 3.4.2), with our single-threaded session.
        from nudenet.nudenet import _postprocess, _read_image

        blob, x_ratio, y_ratio, x_pad, y_pad, width, height = _read_image(bgr, size)
        outputs = self._session.run(None, {self._input_name: blob})
        detections = _postprocess(outputs, x_pad, y_pad, x_ratio, y_ratio, width, height, size, size)
        # The gender label is dropped on purpose: a face is personal data either way, and a
        # guessed gender is not something the platform should record about anyone.
        return [
            (tuple(int(v) for v in d["box"]), float(d["score"]))  # type: ignore[misc]
            for d in detections
            if d["class"] in NUDENET_FACE_LABELS and d["score"] >= NUDENET_MIN_SCORE
        ]


def _merged(faces: list[tuple[Box, float]]) -> list[tuple[Box, float]]:
    """One box per face when both passes found it: the higher-scored one."""
    import cv2

    if len(faces) < 2:
        return faces
    keep = cv2.dnn.NMSBoxes([list(box) for box, _ in faces], [score for _, score in faces], NUDENET_MIN_SCORE, MERGE_IOU)
    return [faces[index] for index in sorted(int(i) for i in np.ravel(keep))]
