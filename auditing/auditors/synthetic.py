"""Synthetic inputs: an image whose C2PA actions or IPTC/XMP metadata say it was made by a trained
model (`trainedAlgorithmicMedia`, or a composite with such media) is reported, so reviewers can
keep generated images out of training sets."""

from __future__ import annotations

from auditing.auditors.base import Auditor, AuditSubject, FindingDraft

_IPTC_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_SYNTHETIC = {"trainedalgorithmicmedia", "compositewithtrainedalgorithmicmedia"}


def _kind(value: str) -> str:
    return value.rstrip("/").rsplit("/", 1)[-1].lower()


class SyntheticAuditor(Auditor):
    name = "synthetic"
    version = "1"

    def audit(self, subject: AuditSubject) -> list[FindingDraft]:
        sources: list[tuple[str, str]] = []
        declared = subject.metadata.get("digital_source_type")
        if declared:
            sources.append(("metadata", declared))
        for value in (subject.metadata.get("xmp") or {}).get(f"{{{_IPTC_NS}}}DigitalSourceType", []):
            sources.append(("xmp", value))
        hits = [(where, value) for where, value in sources if _kind(value) in _SYNTHETIC]
        if not hits:
            return []
        where, value = hits[0]
        return [
            FindingDraft(
                code="synthetic.trained_algorithmic_media",
                score=1.0,
                details={"digital_source_type": value, "declared_in": where},
            )
        ]
