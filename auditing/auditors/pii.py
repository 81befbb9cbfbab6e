"""Personal data: in captions and text metadata (Presidio), in pixels (Tesseract + Presidio, with
word boxes), GPS coordinates, and faces. Each hit is one finding, with its field and position."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from django.conf import settings

from auditing.auditors.base import Auditor, AuditSubject, FindingDraft

if TYPE_CHECKING:
    from auditing.detectors.pii import PiiHit


def _in_stored_pixels(hit: PiiHit, scale: float) -> PiiHit:
    """A hit found on the working copy, boxed in the stored image's pixels."""
    if hit.box is None or scale == 1.0:
        return hit
    left, top, width, height = (round(value * scale) for value in hit.box)
    return replace(hit, box=(left, top, width, height))


def _draft(hit: PiiHit, kind: str) -> FindingDraft:
    return FindingDraft(code=f"pii.{kind}.{hit.entity_type.lower()}", score=round(float(hit.score), 4), details=hit.as_json())


class PiiAuditor(Auditor):
    name = "pii"
    version = "1"

    def audit(self, subject: AuditSubject) -> list[FindingDraft]:
        # Presidio, spaCy, Tesseract and the face model load here, in the worker, never in the web process.
        from auditing.detectors.pii import find_faces, find_gps, find_pii_in_metadata, find_pii_in_pixels

        config = settings.CLEANROOM_PII
        ner = config.get("NER_MODEL_DIR") or None
        drafts = [
            _draft(hit, "text")
            for hit in find_pii_in_metadata(subject.metadata, subject.caption, subject.original_name, ner_model_dir=ner)
        ]
        gps = find_gps(subject.metadata)
        if gps is not None:
            drafts.append(_draft(gps, "location"))
        image, scale = subject.image, subject.scale
        if config.get("OCR", True):
            hits = find_pii_in_pixels(image, ner_model_dir=ner)
            drafts.extend(_draft(_in_stored_pixels(hit, scale), "pixels") for hit in hits)
        if config.get("FACES", True):
            faces = find_faces(image, backend=config.get("FACE_BACKEND", "nudenet"))
            drafts.extend(_draft(_in_stored_pixels(hit, scale), "face") for hit in faces)
        return drafts
