"""Builders for auditing tests. Findings are made the way production makes them, through the
services: ingest an image that an auditor flags, request its audit, run the audit; so every
finding has its audit events and the audit log stays valid. No DjangoModelFactory here."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from auditing.models import Finding
from auditing.services import asset_audit_run, audits_request
from provenance.models import ConsentRecord, Dataset
from tests.provenance.factories import image_bytes, ingest

SYNTHETIC_AUDITOR = "auditing.auditors.synthetic.SyntheticAuditor"

# XMP that declares the image made by a trained model, which the synthetic auditor flags.
SYNTHETIC_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def generated_jpeg(name: str, seed: int) -> SimpleUploadedFile:
    """An image whose XMP declares it made by a trained model, which the synthetic auditor flags."""
    return SimpleUploadedFile(name, image_bytes(seed, xmp=SYNTHETIC_XMP), "image/jpeg")


def flagged_finding(settings, user, dataset: Dataset, consent: ConsentRecord, *, seed: int) -> Finding:
    """Ingest a declared-generated image as `user` and audit it: the asset is flagged with one
    open finding. Only the synthetic auditor runs (the others need models this suite lacks)."""
    settings.CLEANROOM_AUDITORS = [SYNTHETIC_AUDITOR]
    result = ingest(user, dataset, consent, generated_jpeg(f"generated-{seed}.jpg", seed))
    asset_id = result["accepted"][0]["asset_id"]
    audits_request(asset_ids=[asset_id])
    assert asset_audit_run(asset_id=asset_id, task_id=f"test-{seed}") == "flagged"
    return Finding.objects.get(asset_id=asset_id)
