"""The platform on S3: real images ingested through the ingest service land in a bucket (an S3
server over HTTP), content-addressed, and are read back from it to derive thumbnails."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from PIL import Image

from core.storage import blob_name, blob_open, derived_open
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from provenance.services.thumbnails import thumbnail_label, thumbnails_derive
from tests.provenance.factories import write_consent, write_image
from tests.support.s3_server import S3Server, running_s3_server

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with running_s3_server() as server:
        yield server


def test_images_ingested_on_s3_are_stored_by_digest_and_read_back_for_thumbnails(settings, s3_server, contributor, tmp_path):
    bucket = s3_server.new_bucket()
    settings.STORAGES = {**settings.STORAGES, "blobs": s3_server.blob_storage_settings(bucket)}
    dataset_create(slug="faces", scopes=["ai_training", "generative_training"])
    consent = write_consent(tmp_path / "consent", contributor="carla@example.com")
    images = [write_image(tmp_path / "in" / f"{n}.jpg", seed=n, size=(320, 240)) for n in range(3)]
    copy = tmp_path / "in" / "copy.jpg"
    copy.write_bytes(images[0].read_bytes())

    result = IngestResultSerializer(
        ingest_paths(
            paths=[str(p) for p in [*images, copy]],
            dataset_slug="faces",
            contributor_email="carla@example.com",
            consent_path=str(consent),
        )
    ).data

    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in images]
    assert [row["sha256"] for row in result["accepted"]] == digests
    assert [(r["path"], r["reason"]) for r in result["refused"]] == [(str(copy), "duplicate")]
    evidence = hashlib.sha256(b"%PDF-1.4 signed consent form").hexdigest()
    listing = s3_server.client().list_objects_v2(Bucket=bucket)
    assert sorted(o["Key"] for o in listing["Contents"]) == sorted(blob_name(d) for d in [*digests, evidence])

    asset = Asset.objects.get(sha256=digests[1])
    with blob_open(asset.sha256) as handle:
        assert handle.read() == images[1].read_bytes()
    sizes = thumbnails_derive(asset_id=str(asset.pk))
    assert sizes
    with derived_open(asset.sha256, thumbnail_label(sizes[0])) as handle, Image.open(handle) as thumbnail:
        assert thumbnail.format == "WEBP" and max(thumbnail.size) <= sizes[0]
