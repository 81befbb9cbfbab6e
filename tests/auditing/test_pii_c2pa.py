"""Personal data that only Content Credentials carry: real signed C2PA images (c2pa-python),
ingested through the upload service and audited by the PII auditor through the audit service."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from auditing.models import Finding
from auditing.services import asset_audit_run, audits_request
from provenance.models import Asset
from tests.provenance.factories import image_bytes, ingest
from tests.provenance.ingest.c2pa_signing import sign_image

pytestmark = pytest.mark.django_db

EXIF_CONTEXT = {"exif": "http://ns.adobe.com/exif/1.0/"}
# What a C2PA camera writes: XMP-style "DDD,MM.mmk" coordinates, the location nowhere else.
CAMERA_EXIF = {
    "label": "stds.exif",
    "data": {
        "@context": EXIF_CONTEXT,
        "exif:GPSLatitude": "39,21.102N",
        "exif:GPSLongitude": "74,26.5737W",
        "exif:GPSAltitude": "100963/29890",
        "exif:GPSTimeStamp": "2019-09-22T18:22:57Z",
        "exif:ExposureTime": "1/100",
    },
}
APP_METADATA = {
    "label": "c2pa.metadata",
    "data": {"@context": EXIF_CONTEXT, "exif:GPSLatitude": "-33.8688", "exif:GPSLongitude": "151.2093"},
}
AUTHOR = {
    "label": "stds.schema-org.CreativeWork",
    "data": {
        "@context": "http://schema.org/",
        "@type": "CreativeWork",
        "author": [{"@type": "Person", "name": "Jane Doe", "email": "jane.doe@example.com"}],
    },
}


@pytest.fixture(scope="module")
def signed() -> dict[str, bytes]:
    """Signed once for the module: signing is the slow part."""
    parent = sign_image(image_bytes(11), "image/jpeg", assertions=[CAMERA_EXIF])
    return {
        "camera.jpg": sign_image(image_bytes(1), "image/jpeg", assertions=[CAMERA_EXIF]),
        "app.jpg": sign_image(image_bytes(2), "image/jpeg", assertions=[APP_METADATA]),
        "author.jpg": sign_image(image_bytes(3), "image/jpeg", assertions=[AUTHOR]),
        "edited.jpg": sign_image(image_bytes(4), "image/jpeg", parent=parent),
        "clean.jpg": sign_image(image_bytes(5), "image/jpeg"),
    }


@pytest.fixture
def audited(settings, contributor, world, signed):
    """Ingest one signed file as the contributor and run the PII auditor on it; its asset."""
    settings.CLEANROOM_AUDITORS = ["auditing.auditors.pii.PiiAuditor"]
    # Pixels and faces are not under test here (and the images are noise).
    settings.CLEANROOM_PII = {**settings.CLEANROOM_PII, "OCR": False, "FACES": False}

    def run(name: str) -> Asset:
        result = ingest(contributor, world.dataset, world.consent, SimpleUploadedFile(name, signed[name], "image/jpeg"))
        asset_id = result["accepted"][0]["asset_id"]
        audits_request(asset_ids=[asset_id])
        asset_audit_run(asset_id=asset_id, task_id=f"test-{name}")
        return Asset.objects.get(pk=asset_id)

    return run


def location(asset: Asset) -> Finding:
    return Finding.objects.get(asset=asset, code="pii.location.gps_coordinates")


def review_page(reviewer, asset: Asset) -> str:
    web = Client()
    web.force_login(reviewer)
    return web.get(f"/review/assets/{asset.pk}/").content.decode()


def test_a_location_only_in_a_stds_exif_assertion_is_found_and_named(audited, reviewer):
    asset = audited("camera.jpg")

    assert asset.metadata["gps"] is None  # the file's own EXIF and XMP say nothing
    finding = location(asset)
    where = finding.details["details"]
    assert (where["latitude"], where["longitude"]) == (pytest.approx(39.3517, abs=1e-4), pytest.approx(-74.442895, abs=1e-5))
    assert where["assertion"] == "stds.exif" and where["manifest"] == asset.metadata["c2pa"]["active_manifest"]
    assert finding.details["field"] == f"c2pa:{where['manifest']}/stds.exif"
    assert asset.status == "flagged"
    page = review_page(reviewer, asset)
    assert f"The image&#x27;s Content Credentials (stds.exif) in manifest {where['manifest']} record where it was taken" in page


def test_a_location_in_a_c2pa_metadata_assertion_is_found(audited):
    where = location(audited("app.jpg")).details["details"]

    assert where["assertion"] == "c2pa.metadata"
    assert (where["latitude"], where["longitude"]) == (pytest.approx(-33.8688), pytest.approx(151.2093))


def test_an_author_s_email_in_a_creative_work_assertion_is_a_text_finding_at_its_path(audited, reviewer):
    asset = audited("author.jpg")

    finding = Finding.objects.get(asset=asset, code="pii.text.email_address")
    assert finding.details["details"]["assertion"] == "stds.schema-org.CreativeWork"
    assert finding.details["details"]["path"] == "$.author[0].email"
    assert "jane.doe" not in finding.details["text"]  # masked, like every text hit
    manifest = asset.metadata["c2pa"]["active_manifest"]
    assert (
        f"Personal data in its Content Credentials (stds.schema-org.CreativeWork, value author[0].email) in manifest {manifest}"
        in review_page(reviewer, asset)
    )


def test_a_location_in_an_ingredient_s_manifest_is_found_in_that_manifest(audited):
    asset = audited("edited.jpg")

    store = asset.metadata["c2pa"]
    where = location(asset).details["details"]
    assert where["assertion"] == "stds.exif"
    assert where["manifest"] != store["active_manifest"] and where["manifest"] in store["manifests"]


def test_a_manifest_with_only_actions_gives_no_personal_data(audited):
    asset = audited("clean.jpg")

    assert asset.metadata["c2pa"]["manifests"]
    assert not Finding.objects.filter(asset=asset).exists()
    assert asset.status == "clear"
