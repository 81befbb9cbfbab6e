from __future__ import annotations

import hashlib
import json

import pytest

from core.exceptions import ApplicationError
from core.models import AuditEvent, EventType
from core.storage import blob_open
from provenance import merkle
from provenance.c2pa.manifests import container_files, read_manifest
from provenance.models import AssetStatus, Snapshot
from provenance.services.consent import consent_revoke
from provenance.services.snapshot_export import snapshot_container
from provenance.services.snapshots import snapshot_approve, snapshot_create
from tests.provenance.factories import AssetFactory, ConsentFactory, DatasetFactory, add_to_dataset
from tests.support.pki import use_identity, write_identity

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def identity(settings, tmp_path):
    installed = write_identity(tmp_path / "pki")
    use_identity(settings, installed)
    return installed


@pytest.fixture
def built(ml_engineer) -> str:
    dataset = DatasetFactory(slug="faces")
    consent = ConsentFactory()
    add_to_dataset(dataset, *[AssetFactory(consent=consent, status=AssetStatus.CLEAR) for _ in range(5)])
    return str(snapshot_create(dataset_slug="faces", actor=ml_engineer).pk)


@pytest.fixture
def approved(built, reviewer, second_reviewer) -> str:
    snapshot_approve(snapshot_id=built, reviewer=reviewer)
    snapshot_approve(snapshot_id=built, reviewer=second_reviewer)
    return built


def exported_container(snapshot: Snapshot) -> bytes:
    with blob_open(snapshot.container_sha256) as handle:
        return handle.read()


def exports() -> int:
    return AuditEvent.objects.filter(event_type=EventType.SNAPSHOT_EXPORTED).count()


def test_an_approved_snapshot_is_exported_as_a_trusted_signed_container(approved):
    assert exports() == 0
    result = snapshot_container(approved)

    snapshot = Snapshot.objects.get(pk=approved)
    container = exported_container(result)
    assert result.container_sha256 == snapshot.container_sha256 == hashlib.sha256(container).hexdigest()
    assert result.merkle_root == snapshot.merkle_root and exports() == 1
    reading = read_manifest(container, "application/x-zip")
    assert reading.state == "Trusted"
    assertion = next(a["data"] for a in reading.active_manifest["assertions"] if a["label"] == "org.cleanroom.snapshot")
    assert (assertion["snapshot_id"], assertion["merkle_root"], assertion["asset_count"]) == (approved, snapshot.merkle_root, 5)

    document_bytes = container_files(container)["snapshot.json"]
    assert assertion["document_sha256"] == hashlib.sha256(document_bytes).hexdigest()
    document = json.loads(document_bytes)
    assert document["id"] == approved and document["dataset"] == "faces"
    assert [approval["reviewer"] for approval in document["approvals"]] == ["rita", "ravi"]
    leaves = [bytes.fromhex(member["leaf_hash"]) for member in document["members"]]
    assert merkle.merkle_root(leaves).hex() == document["merkle_root"] == snapshot.merkle_root
    for member in document["members"]:
        leaf = merkle.snapshot_leaf(
            asset_sha256=member["asset_sha256"], consent_id=member["consent_id"], consent_digest=member["consent_digest"]
        )
        assert merkle.leaf_hash(leaf).hex() == member["leaf_hash"]

    event = AuditEvent.objects.get(event_type=EventType.SNAPSHOT_EXPORTED)
    assert event.subject_id == approved and event.details["container_sha256"] == result.container_sha256


def test_exporting_twice_returns_the_same_container_and_logs_once(approved):
    first = snapshot_container(approved)
    second = snapshot_container(approved)

    assert second.container_sha256 == first.container_sha256
    assert exports() == 1


def test_a_snapshot_in_review_is_not_exported(built, reviewer):
    snapshot_approve(snapshot_id=built, reviewer=reviewer)  # one approval of two

    with pytest.raises(ApplicationError) as refused:
        snapshot_container(built)

    assert refused.value.code == "snapshot_not_approved"
    assert Snapshot.objects.get(pk=built).container_sha256 == "" and exports() == 0


def test_a_tainted_snapshot_is_refused_even_after_it_was_exported(approved, operator):
    snapshot_container(approved)
    consent_id = Snapshot.objects.get(pk=approved).members.first().consent_id
    consent_revoke(consent_id=str(consent_id), actor=operator, reason="contributor asked")

    with pytest.raises(ApplicationError) as refused:
        snapshot_container(approved)

    assert refused.value.code == "snapshot_tainted"


def test_an_unknown_snapshot_is_refused():
    with pytest.raises(ApplicationError) as refused:
        snapshot_container("00000000-0000-0000-0000-000000000000")

    assert refused.value.code == "unknown_snapshot"
