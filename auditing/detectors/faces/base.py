"""What a face detector backend is: the class CLEANROOM_PII['FACE_BACKEND'] names."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from auditing.detectors.pii_hit import Box


class FaceDetector(ABC):
    """Built once per process with no arguments (loading its model), then shared."""

    # Recorded in each finding's details.
    name: ClassVar[str]

    @abstractmethod
    def detect(self, bgr: np.ndarray) -> list[tuple[Box, float]]:
        """Each face as (left, top, width, height) in the image's pixels, with a score in [0, 1]."""
