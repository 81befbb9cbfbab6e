"""Personal data: in captions and text metadata (Presidio), in pixels (Tesseract + Presidio, with
word boxes), GPS coordinates, faces, and inside embedded Content Credentials (C2PA assertions).
Each hit is one finding, with its field and position."""

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
    # 2: the C2PA manifest store's assertions are read too (location and text in Content Credentials).
    version = "2"

    def audit(self, subject: AuditSubject) -> list[FindingDraft]:
        # Presidio, spaCy, Tesseract and the face model load here, in the worker, never in the web process.
        from auditing.detectors.pii import (
            GPS_ENTITY,
            find_faces,
            find_gps,
            find_pii_in_metadata,
            find_pii_in_pixels,
        )
        from auditing.detectors.pii_c2pa import find_pii_in_c2pa

        config = settings.CLEANROOM_PII
        ner = config.get("NER_MODEL_DIR") or None
        drafts = [
            _draft(hit, "text")
            for hit in find_pii_in_metadata(subject.metadata, subject.caption, subject.original_name, ner_model_dir=ner)
        ]
        gps = find_gps(subject.metadata)
        if gps is not None:
            drafts.append(_draft(gps, "location"))
        for hit in find_pii_in_c2pa(subject.metadata.get("c2pa"), ner_model_dir=ner):
            drafts.append(_draft(hit, "location" if hit.entity_type == GPS_ENTITY else "text"))
        image, scale = subject.image, subject.scale
        if config.get("OCR", True):
            hits = find_pii_in_pixels(image, ner_model_dir=ner)
            drafts.extend(_draft(_in_stored_pixels(hit, scale), "pixels") for hit in hits)
        if config.get("FACES", True):
            faces = find_faces(image, backend=config.get("FACE_BACKEND", "nudenet"))
            drafts.extend(_draft(_in_stored_pixels(hit, scale), "face") for hit in faces)
        return drafts
