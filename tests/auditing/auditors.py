"""Auditors configured by tests through CLEANROOM_AUDITORS, as an operator would configure any."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from auditing.auditors.base import Auditor, AuditSubject, FindingDraft
from auditing.auditors.synthetic import SyntheticAuditor
from auditing.detectors.faces.base import FaceDetector
from auditing.detectors.pii_hit import Box


class SyntheticAuditorV2(SyntheticAuditor):
    """The next release of the synthetic auditor (same rules, new version)."""

    version = "2"


class SyntheticAuditorFixed(SyntheticAuditor):
    """A release whose new policy no longer flags what version 1 did (a false positive fixed)."""

    version = "fixed"

    def audit(self, subject: AuditSubject) -> list[FindingDraft]:
        return []


class SlowAuditor(Auditor):
    """Takes its time and leaves a marker when it starts: lets a test kill a worker mid-task."""

    name = "slow"
    version = "1"

    def audit(self, subject: AuditSubject) -> list[FindingDraft]:
        marker = os.environ.get("CLEANROOM_TEST_SLOW_MARKER")
        if marker:
            Path(marker).mkdir(parents=True, exist_ok=True)
            (Path(marker) / f"{subject.asset_id}.{os.getpid()}").touch()
        time.sleep(float(os.environ.get("CLEANROOM_TEST_SLOW_SECONDS", "2")))
        return []


class BrokenAuditor(Auditor):
    """Fails on every image, as an auditor whose library crashes on some input does."""

    name = "broken"
    version = "1"

    def audit(self, subject: AuditSubject) -> list[FindingDraft]:
        raise ValueError(f"cannot read image {subject.sha256[:12]}: (-215:Assertion failed) inv_scale_x > 0")


class WorkingCopyAuditor(Auditor):
    """Reports the image it was handed: its size, and how many original pixels each of its pixels stands for."""

    name = "working_copy"
    version = "1"

    def audit(self, subject: AuditSubject) -> list[FindingDraft]:
        image = subject.image
        return [FindingDraft(code="working_copy.seen", score=0.0, details={"size": list(image.size), "scale": subject.scale})]


class LowerRightFace(FaceDetector):
    """Finds one "face": the lower-right quarter of whatever pixels it is given."""

    name = "lower_right"

    def detect(self, bgr: np.ndarray) -> list[tuple[Box, float]]:
        height, width = bgr.shape[:2]
        return [((width // 2, height // 2, width - width // 2, height - height // 2), 0.9)]


class TwoFaces(FaceDetector):
    """Finds two "faces": the upper-left and the lower-right quarter of whatever pixels it is given."""

    name = "two_faces"

    def detect(self, bgr: np.ndarray) -> list[tuple[Box, float]]:
        height, width = bgr.shape[:2]
        half_width, half_height = width // 2, height // 2
        upper_left = (0, 0, half_width, half_height)
        return [(upper_left, 0.8), ((half_width, half_height, width - half_width, height - half_height), 0.9)]
