"""Unsafe content: the configured NSFW detector (NudeNet by default, or a local CLIP classifier).
The detector's version includes its threshold and what it counts, so changing them re-audits."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.conf import settings

from auditing.auditors.base import Auditor, AuditSubject, FindingDraft
from auditing.detectors.nsfw import NsfwDetector, detector_from_settings

# Detectors by the value of settings.CLEANROOM_NSFW: built once per process (a CLIP backend
# digests its weights file), rebuilt when the setting changes.
_detectors: dict[str, NsfwDetector] = {}


def _detector(config: dict[str, Any]) -> NsfwDetector:
    key = repr(sorted(config.items()))
    if key not in _detectors:
        _detectors[key] = detector_from_settings(config)
    return _detectors[key]


class NsfwAuditor(Auditor):
    name = "nsfw"

    @property
    def detector(self) -> NsfwDetector:
        return _detector(dict(settings.CLEANROOM_NSFW))

    @property
    def version(self) -> str:
        return self.detector.version

    def audit(self, subject: AuditSubject) -> list[FindingDraft]:
        detector = self.detector
        result = detector.detect(subject.image)
        if not result.flagged:
            return []
        return [FindingDraft(code=f"nsfw.{detector.name}", score=round(result.score, 4), details=asdict(result))]
