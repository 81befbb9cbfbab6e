"""The near-duplicate auditor in the pipeline, on third-party photos (scikit-image's data)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.db import transaction
from PIL import Image
from skimage import data as samples

from auditing.models import AssetFingerprint, Finding
from auditing.protected import protected_add
from auditing.protected_index import protected_index_forget
from auditing.services import asset_audit_run, audits_request
from provenance.models import Asset
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from tests.provenance.factories import write_consent

pytestmark = pytest.mark.django_db


def jpeg(array: np.ndarray, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _only_this_auditor(settings, tmp_path):
    settings.CLEANROOM_AUDITORS = ["auditing.auditors.near_duplicate.NearDuplicateAuditor"]
    settings.CLEANROOM_INDEX_DIR = tmp_path / "indexes"
    protected_index_forget()
    yield
    protected_index_forget()


@pytest.fixture
def protect(tmp_path):
    def run(name: str, content: bytes, owner: str = "Acme Pictures") -> str:
        path = tmp_path / "protected" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        return protected_add(paths=[str(path)], owner=owner, reference="catalogue #7")["added"][0]["protected_work_id"]

    return run


@pytest.fixture
def ingest(contributor, tmp_path):
    dataset_create(slug="photos", scopes=["ai_training"])
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])

    def run(files: dict[str, bytes]) -> dict[str, str]:
        folder = tmp_path / "in"
        folder.mkdir(exist_ok=True)
        for name, content in files.items():
            (folder / name).write_bytes(content)
        paths = [str(folder / name) for name in files]
        result = ingest_paths(paths=paths, dataset_slug="photos", contributor_email="carla@example.com", consent_path=str(consent))
        ids = {row["path"].rsplit("/", 1)[-1]: row["asset_id"] for row in result["accepted"]}
        for name in files:
            with transaction.atomic():
                audits_request(asset_ids=[ids[name]])
            asset_audit_run(asset_id=ids[name], task_id="t")
        return ids

    return run


def test_a_cropped_flipped_recompressed_copy_of_a_protected_work_is_found(protect, ingest):
    work_id = protect("astronaut.png", jpeg(samples.astronaut(), quality=95))
    copy = samples.astronaut()[40:470, 20:460][:, ::-1]
    ids = ingest({"space.jpg": jpeg(copy, quality=70)})
    finding = Finding.objects.get(asset_id=ids["space.jpg"], code="near_duplicate.protected_work")
    assert finding.details["protected_work_id"] == work_id
    assert finding.details["owner"] == "Acme Pictures" and finding.details["reference"] == "catalogue #7"
    assert {"flip", "crop"} <= set(finding.details["transforms"])
    assert finding.details["inliers"] >= 15 and finding.details["geometry"]["flipped"] is True
    assert finding.score > 0.5
    assert Asset.objects.get(pk=ids["space.jpg"]).status == "flagged"


def test_an_unrelated_photo_has_no_finding_and_is_clear(protect, ingest):
    protect("astronaut.jpg", jpeg(samples.astronaut()))
    ids = ingest({"coffee.jpg": jpeg(samples.coffee())})
    assert not Finding.objects.filter(asset_id=ids["coffee.jpg"]).exists()
    assert Asset.objects.get(pk=ids["coffee.jpg"]).status == "clear"
    assert AssetFingerprint.objects.filter(asset_id=ids["coffee.jpg"]).exists()


def test_two_near_identical_assets_in_one_dataset_are_a_within_dataset_finding(ingest):
    camera = samples.camera()
    resized = np.asarray(Image.fromarray(camera).resize((400, 400), Image.Resampling.LANCZOS))
    ids = ingest({"camera.jpg": jpeg(camera), "camera-small.jpg": jpeg(resized, quality=75), "coffee.jpg": jpeg(samples.coffee())})
    findings = Finding.objects.filter(code="near_duplicate.within_dataset")
    assert [(f.asset_id, f.details["asset_id"]) for f in findings] == [
        (Asset.objects.get(pk=ids["camera-small.jpg"]).pk, ids["camera.jpg"])
    ]
    assert "scale" in findings[0].details["transforms"]
    assert Asset.objects.get(pk=ids["coffee.jpg"]).status == "clear"
