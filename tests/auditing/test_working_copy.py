"""Auditors work on a working copy of bounded size, whatever the size of the stored image, and
report positions in the stored image's pixels."""

from __future__ import annotations

import pytest
from django.db import transaction

from auditing.auditors.base import WORKING_PIXELS
from auditing.models import AuditRun, Finding
from auditing.services import asset_audit_run, audits_request
from core.storage import blob_name, blob_storage
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from tests.provenance.factories import blank_png, image_bytes, write_consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def ingest_one(contributor, tmp_path):
    dataset_create(slug="large", scopes=["ai_training"])
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])

    def run(name: str, data: bytes) -> Asset:
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        batch = ingest_paths(
            paths=[str(path)], dataset_slug="large", contributor_email="carla@example.com", consent_path=str(consent)
        )
        result = IngestResultSerializer(batch).data
        assert result["refused"] == [], result["refused"]
        return Asset.objects.get(pk=result["accepted"][0]["asset_id"])

    return run


def audit(asset: Asset) -> None:
    with transaction.atomic():
        audits_request(asset_ids=[str(asset.pk)])
    asset_audit_run(asset_id=str(asset.pk), task_id="working-copy")


@pytest.mark.parametrize(
    ("name", "data", "size"),
    [
        ("wide.png", blank_png(6000, 4000, "RGBA"), (6000, 4000)),
        ("photo.jpg", image_bytes(80, size=(4800, 3200), quality=70), (4800, 3200)),
    ],
)
def test_an_auditor_sees_a_working_copy_of_bounded_size_with_the_images_proportions(ingest_one, settings, name, data, size):
    settings.CLEANROOM_AUDITORS = ["tests.auditing.auditors.WorkingCopyAuditor"]
    asset = ingest_one(name, data)

    audit(asset)

    seen = Finding.objects.get(asset=asset).details
    width, height = seen["size"]
    assert width * height <= WORKING_PIXELS
    assert width * height >= WORKING_PIXELS / 4  # reduced, not thrown away
    assert width / height == pytest.approx(size[0] / size[1], rel=0.01)
    assert seen["scale"] == pytest.approx(size[0] / width, rel=0.01)


def test_a_small_image_is_audited_as_it_is(ingest_one, settings):
    settings.CLEANROOM_AUDITORS = ["tests.auditing.auditors.WorkingCopyAuditor"]
    asset = ingest_one("small.png", image_bytes(81, size=(640, 480), fmt="PNG"))

    audit(asset)

    assert Finding.objects.get(asset=asset).details == {"size": [640, 480], "scale": 1.0}


def test_faces_found_on_the_working_copy_are_boxed_in_the_stored_images_pixels(ingest_one, settings):
    settings.CLEANROOM_AUDITORS = ["auditing.auditors.pii.PiiAuditor"]
    settings.CLEANROOM_PII = {"OCR": False, "FACES": True, "FACE_BACKEND": "tests.auditing.auditors.LowerRightFace"}
    asset = ingest_one("group.png", blank_png(6000, 4000, "RGB"))

    audit(asset)

    [face] = Finding.objects.filter(asset=asset, code="pii.face.face")
    left, top, width, height = face.details["box"]
    assert (left, top) == (pytest.approx(3000, abs=4), pytest.approx(2000, abs=4))
    assert (left + width, top + height) == (pytest.approx(6000, abs=4), pytest.approx(4000, abs=4))


def test_a_stored_image_that_no_longer_decodes_fails_its_run_with_a_plain_error(ingest_one, settings):
    settings.CLEANROOM_AUDITORS = ["tests.auditing.auditors.WorkingCopyAuditor"]
    asset = ingest_one("gone.png", image_bytes(82, fmt="PNG"))
    storage = blob_storage()
    with open(storage.path(blob_name(asset.sha256)), "wb") as damaged:  # the disk under the blob store rotted
        damaged.write(b"no longer an image")

    audit(asset)

    run = AuditRun.objects.get(asset=asset)
    assert run.status == "failed"
    assert run.error and " at 0x" not in run.error, run.error
