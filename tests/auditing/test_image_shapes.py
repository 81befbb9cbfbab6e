"""Every auditor concludes on images of any shape ingest accepts: one pixel, one-pixel lines,
two-pixel strips, huge aspect ratios, a GIF whose logical screen dwarfs its only frame. Each
goes through the real ingest and every built-in auditor, as a worker runs them."""

from __future__ import annotations

import io
import struct

import pytest
from django.db import transaction
from PIL import Image

from auditing.models import AuditRun, Finding
from auditing.registry import AUDITORS
from auditing.services import asset_audit_run, audits_request
from auditing.services.protected import protected_add
from auditing.services.protected_index import protected_index_forget
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset, AssetStatus
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from tests.provenance.factories import image_bytes, write_consent

pytestmark = pytest.mark.django_db

N = 1000
SHAPES = {
    "1x1.png": (1, 1),
    "1xN.png": (1, N),
    "Nx1.png": (N, 1),
    "2xN.png": (2, N),
    "Nx2.png": (N, 2),
    "3000x3.png": (3000, 3),
    "3x3000.png": (3, 3000),
    "10000x1.png": (10000, 1),
}
# Thin works a copy of which the hash stages still find (pHash and dHash of noise along the
# long side); a single pixel or a two-pixel strip hashes like any flat image, so those are not.
THIN_PROTECTED = ["3000x3.png", "3x3000.png", "10000x1.png"]


def gif_with_a_wide_logical_screen(width: int = 10799, height: int = 10) -> bytes:
    """A 4×4 frame on a `width`×`height` logical screen (header bytes 6-9), as a fuzzer makes one."""
    buffer = io.BytesIO()
    Image.new("P", (4, 4), 1).save(buffer, "GIF")
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


@pytest.fixture
def audited(contributor, tmp_path, settings) -> dict[str, Asset]:
    settings.CLEANROOM_AUDITORS = AUDITORS.names()  # every built-in auditor
    settings.CLEANROOM_INDEX_DIR = tmp_path / "indexes"
    protected_index_forget()
    files = {name: image_bytes(seed, size=size, fmt="PNG") for seed, (name, size) in enumerate(SHAPES.items())}
    files["screen-10799x10.gif"] = gif_with_a_wide_logical_screen()
    protected = tmp_path / "protected"
    protected.mkdir()
    for name in THIN_PROTECTED:
        (protected / name).write_bytes(files[name])
    registered = protected_add(paths=[str(protected)], owner="Acme Strips")
    assert registered.refused == [] and len(registered.added) == len(THIN_PROTECTED)
    folder = tmp_path / "in"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    dataset_create(slug="shapes", scopes=["ai_training"])
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])
    result = IngestResultSerializer(
        ingest_paths(paths=[str(folder)], dataset_slug="shapes", contributor_email="carla@example.com", consent_path=str(consent))
    ).data
    assert result["refused"] == []
    ids = {row["path"].rsplit("/", 1)[-1]: row["asset_id"] for row in result["accepted"]}
    for asset_id in ids.values():
        with transaction.atomic():
            audits_request(asset_ids=[asset_id])
        asset_audit_run(asset_id=asset_id, task_id="shapes")
    yield {name: Asset.objects.get(pk=asset_id) for name, asset_id in ids.items()}
    protected_index_forget()


def test_every_auditor_concludes_on_every_shape_and_finds_copies_of_thin_works(audited):
    assert sorted(audited) == sorted([*SHAPES, "screen-10799x10.gif"])
    for name, asset in audited.items():
        runs = AuditRun.objects.filter(asset=asset)
        assert sorted(runs.values_list("auditor", "status")) == [(auditor, "done") for auditor in AUDITORS.names()], name
        # Copies of the thin protected works are found on their hashes; nothing else is flagged
        # (a single pixel, a line of noise and a mostly empty GIF screen hash alike, but differ in shape).
        codes = list(Finding.objects.filter(asset=asset).values_list("code", flat=True))
        assert codes == (["near_duplicate.protected_work"] if name in THIN_PROTECTED else []), name
        assert asset.status == (AssetStatus.FLAGGED if name in THIN_PROTECTED else AssetStatus.CLEAR), name
    for name in THIN_PROTECTED:
        finding = Finding.objects.get(asset=audited[name])
        assert (finding.details["owner"], finding.details["method"], finding.score) == ("Acme Strips", "hash", 1.0), name
