"""The `haar` face backend: OpenCV's frontal-face Haar cascade (permissively licensed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from auditing.detectors.faces.base import FaceDetector
from auditing.detectors.pii_hit import Box


class HaarFaces(FaceDetector):
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
