"""A watermark backend configured by tests through CLEANROOM_WATERMARK_BACKEND, as an operator
would configure any: it takes its time and leaves a marker when it starts, so a test can kill a
worker in the middle of a generation job (embedding) or a verification (detecting)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from PIL import Image

from generation.watermarks.base import WatermarkBackend, WatermarkHit

SLOW_WATERMARK = "tests.generation.slow_watermark.SlowWatermark"


def _linger(what: str) -> None:
    marker = os.environ.get("CLEANROOM_TEST_SLOW_MARKER")
    if marker:
        Path(marker).mkdir(parents=True, exist_ok=True)
        (Path(marker) / f"{what}.{os.getpid()}").touch()
    time.sleep(float(os.environ.get("CLEANROOM_TEST_SLOW_SECONDS", "2")))


class SlowWatermark(WatermarkBackend):
    name = "slow"
    algorithm = "org.example.slow"

    def embed(self, rgb: Image.Image, payload: int) -> Image.Image:
        _linger("embed")
        return rgb

    def detect(self, rgb: Image.Image, *, try_mirror: bool, max_false_positive: float) -> WatermarkHit | None:
        _linger("detect")
        return None
