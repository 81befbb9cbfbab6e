"""The PII and NSFW auditors inside the pipeline, on third-party photos (scikit-image's data)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.db import transaction
from PIL import Image, ImageDraw, ImageFont
from skimage import data as samples

from auditing.models import Finding
from auditing.services import asset_audit_run, audits_request
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from tests.provenance.factories import write_consent

pytestmark = pytest.mark.django_db


def jpeg(array: np.ndarray, **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(buffer, "JPEG", quality=92, **save)
    return buffer.getvalue()


def with_text(text: str) -> bytes:
    image = Image.new("RGB", (640, 200), "white")
    ImageDraw.Draw(image).text((30, 80), text, fill="black", font=ImageFont.load_default(size=32))
    return jpeg(np.asarray(image))


@pytest.fixture
def ingest(contributor, tmp_path, settings):
    settings.CLEANROOM_AUDITORS = ["auditing.auditors.pii.PiiAuditor", "auditing.auditors.nsfw.NsfwAuditor"]
    dataset_create(slug="photos", scopes=["ai_training"])
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])

    def run(files: dict[str, bytes], captions: dict[str, str] | None = None) -> dict[str, str]:
        folder = tmp_path / "in"
        folder.mkdir(exist_ok=True)
        for name, content in files.items():
            (folder / name).write_bytes(content)
        for name, caption in (captions or {}).items():
            (folder / name).write_text(caption)
        result = IngestResultSerializer(
            ingest_paths(
                paths=[str(folder)], dataset_slug="photos", contributor_email="carla@example.com", consent_path=str(consent)
            )
        ).data
        ids = {row["path"].rsplit("/", 1)[-1]: row["asset_id"] for row in result["accepted"]}
        for asset_id in ids.values():
            with transaction.atomic():
                audits_request(asset_ids=[asset_id])
            asset_audit_run(asset_id=asset_id, task_id="t")
        return ids

    return run


def codes(asset_id: str) -> set[str]:
    return set(Finding.objects.filter(asset_id=asset_id).values_list("code", flat=True))


def test_a_photo_without_people_text_or_location_is_clear(ingest):
    ids = ingest({"coffee.jpg": jpeg(samples.coffee())})
    assert Asset.objects.get(pk=ids["coffee.jpg"]).status == "clear"


def test_a_face_is_a_pii_finding_with_its_box(ingest):
    ids = ingest({"astronaut.jpg": jpeg(samples.astronaut())})
    finding = Finding.objects.get(asset_id=ids["astronaut.jpg"], code="pii.face.face")
    assert len(finding.details["box"]) == 4 and finding.score > 0.3
    assert Asset.objects.get(pk=ids["astronaut.jpg"]).status == "flagged"


def test_the_configured_face_backend_is_the_one_the_pii_auditor_uses(ingest, settings):
    settings.CLEANROOM_PII = {**settings.CLEANROOM_PII, "OCR": False, "FACE_BACKEND": "haar"}
    ids = ingest({"astronaut.jpg": jpeg(samples.astronaut())})
    finding = Finding.objects.get(asset_id=ids["astronaut.jpg"], code="pii.face.face")
    assert finding.details["details"] == {"detector": "haar"}


def test_an_email_in_the_caption_and_a_phone_number_in_the_pixels_are_found(ingest):
    ids = ingest(
        {"sign.jpg": with_text("Call 212-555-0147 today")},
        captions={"sign.txt": "Shot for jane.doe@example.com"},
    )
    found = codes(ids["sign.jpg"])
    assert "pii.text.email_address" in found and "pii.pixels.phone_number" in found
    caption_hit = Finding.objects.get(asset_id=ids["sign.jpg"], code="pii.text.email_address")
    assert caption_hit.details["field"] == "caption" and "jane.doe" not in caption_hit.details["text"]


def test_gps_coordinates_are_a_location_finding(ingest):
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    ids = ingest({"paris.jpg": jpeg(samples.coffee(), exif=exif)})
    finding = Finding.objects.get(asset_id=ids["paris.jpg"], code="pii.location.gps_coordinates")
    assert finding.details["details"]["latitude"] == pytest.approx(48.858, abs=1e-3)


def test_the_nsfw_auditor_flags_what_its_configuration_counts(ingest, settings):
    """Benign photos are never flagged; counting FACE labels at a low threshold proves the wiring."""
    settings.CLEANROOM_AUDITORS = ["auditing.auditors.nsfw.NsfwAuditor"]
    settings.CLEANROOM_NSFW = {"BACKEND": "nudenet", "THRESHOLD": 0.3, "LABELS": ["FACE_FEMALE", "FACE_MALE"]}
    ids = ingest({"astronaut.jpg": jpeg(samples.astronaut()), "coffee.jpg": jpeg(samples.coffee())})
    assert codes(ids["astronaut.jpg"]) == {"nsfw.nudenet"}
    assert codes(ids["coffee.jpg"]) == set()
