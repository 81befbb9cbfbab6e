"""The API tests' world (tests.provenance.api.conftest) plus findings made by the real pipeline."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from auditing.models import Finding
from auditing.services import asset_audit_run, audits_request
from provenance.models import ConsentRecord, Dataset
from tests.auditing.test_services import SYNTHETIC_XMP
from tests.provenance.api.conftest import client_for, ingest, world  # noqa: F401 - fixtures used here
from tests.provenance.factories import image_bytes

SYNTHETIC_AUDITOR = "auditing.auditors.synthetic.SyntheticAuditor"


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
