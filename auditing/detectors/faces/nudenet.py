"""The `nudenet` face backend: NudeNet's YOLO body-part detector, keeping only its face labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from auditing.detectors.faces.base import FaceDetector
from auditing.detectors.pii_hit import Box

# NudeNet scored the two real faces 0.58 and 0.72 and nothing above 0.3 on the faceless photos.
NUDENET_MIN_SCORE = 0.4
NUDENET_FACE_LABELS = frozenset({"FACE_FEMALE", "FACE_MALE"})


class NudeNetFaces(FaceDetector):
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
