"""Unsafe content: the configured NSFW detector (NudeNet by default, or a local CLIP classifier).
The detector's version includes its threshold and counted labels, so changing them re-audits."""

from __future__ import annotations

from dataclasses import asdict
from functools import cached_property

from django.conf import settings

from auditing.auditors.base import AuditSubject, FindingDraft
from auditing.detectors.nsfw import NsfwDetector, detector_from_settings


class NsfwAuditor:
    name = "nsfw"

    @cached_property
    def detector(self) -> NsfwDetector:
        return detector_from_settings(settings.CLEANROOM_NSFW)

    @property
    def version(self) -> str:
        return self.detector.version

    def audit(self, subject: AuditSubject) -> list[FindingDraft]:
        result = self.detector.detect(subject.image)
        if not result.flagged:
            return []
        return [FindingDraft(code=f"nsfw.{self.detector.name}", score=round(result.score, 4), details=asdict(result))]
