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


NEAR_DUPLICATE_AUDITOR = "auditing.auditors.near_duplicate.NearDuplicateAuditor"


def near_duplicate_finding(settings, tmp_path, user, dataset: Dataset, consent: ConsentRecord) -> Finding:
    """Register a photo (scikit-image's astronaut) as a protected work of "Acme Pictures", then
    ingest a cropped, mirrored, recompressed copy as `user` and audit it: the asset is flagged
    with a `near_duplicate.protected_work` finding carrying the matched work and the geometry."""
    import io

    from PIL import Image
    from skimage import data as samples

    from auditing.services.protected import protected_add
    from auditing.services.protected_index import protected_index_forget

    def jpeg_of(array, quality: int) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(array).convert("RGB").save(buffer, "JPEG", quality=quality)
        return buffer.getvalue()

    settings.CLEANROOM_AUDITORS = [NEAR_DUPLICATE_AUDITOR]
    settings.CLEANROOM_INDEX_DIR = tmp_path / "indexes"
    protected_index_forget()
    original = tmp_path / "protected" / "astronaut.jpg"
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_bytes(jpeg_of(samples.astronaut(), 95))
    protected_add(paths=[str(original)], owner="Acme Pictures", reference="catalogue #7")
    copy = jpeg_of(samples.astronaut()[40:470, 20:460][:, ::-1], 70)
    result = ingest(user, dataset, consent, SimpleUploadedFile("space.jpg", copy, "image/jpeg"))
    asset_id = result["accepted"][0]["asset_id"]
    audits_request(asset_ids=[asset_id])
    assert asset_audit_run(asset_id=asset_id, task_id="test-near-duplicate") == "flagged"
    protected_index_forget()
    return Finding.objects.get(asset_id=asset_id, code="near_duplicate.protected_work")
