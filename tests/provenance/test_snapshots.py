from __future__ import annotations

import hashlib

import pytest

from core.audit import auditlog_verify
from core.exceptions import ApplicationError, PermissionDenied
from core.models import AuditEvent
from provenance import merkle
from provenance.api.serializers import SnapshotCreateResultSerializer, SnapshotProofSerializer, SnapshotReviewResultSerializer
from provenance.models import AssetStatus, ConsentEvent, SnapshotMember, SnapshotStatus
from provenance.selectors import snapshot_approvals
from provenance.services.consent import consent_revoke
from provenance.services.snapshots import snapshot_approve, snapshot_create, snapshot_prove, snapshot_reject
from tests.provenance.factories import AssetFactory, ConsentFactory, DatasetFactory, add_to_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset():
    return DatasetFactory(slug="faces")


@pytest.fixture
def cleared(dataset):
    consent = ConsentFactory()
    assets = [AssetFactory(consent=consent, status=AssetStatus.CLEAR) for _ in range(5)]
    add_to_dataset(dataset, *assets)
    return assets


def test_snapshot_root_is_recomputable_from_its_documented_leaves(dataset, cleared, ml_engineer):
    result = SnapshotCreateResultSerializer(snapshot_create(dataset_slug="faces", actor=ml_engineer)).data
    # Independent computation, straight from docs/merkle.md: leaves sorted by asset sha256.
    leaves = sorted(f"{a.sha256}:{a.consent_id}:{a.consent.digest}".encode("ascii") for a in cleared)

    def mth(items):
        if len(items) == 1:
            return hashlib.sha256(b"\x00" + items[0]).digest()
        k = 1
        while k * 2 < len(items):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(items[:k]) + mth(items[k:])).digest()

    assert result["merkle_root"] == mth(leaves).hex()
    assert result["asset_count"] == 5
    assert result["excluded"] == []


def test_snapshot_excludes_assets_with_a_reason(dataset, cleared, ml_engineer):
    flagged = AssetFactory(status=AssetStatus.FLAGGED)
    pending = AssetFactory(status=AssetStatus.INGESTED)
    withdrawn = AssetFactory(status=AssetStatus.WITHDRAWN)
    narrow = AssetFactory(consent=ConsentFactory(scopes=["ai_training"]))
    expired = AssetFactory(consent=ConsentFactory(expires_at="2026-02-01T00:00:00Z"))
    add_to_dataset(dataset, flagged, pending, withdrawn, narrow, expired)
    result = SnapshotCreateResultSerializer(snapshot_create(dataset_slug="faces", actor=ml_engineer)).data
    reasons = {row["asset_id"]: row["reason"] for row in result["excluded"]}
    assert reasons == {
        str(flagged.pk): "flagged",
        str(pending.pk): "not_cleared",
        str(withdrawn.pk): "withdrawn",
        str(narrow.pk): "no_consent",
        str(expired.pk): "no_consent",
    }
    assert result["asset_count"] == 5


def test_an_empty_snapshot_is_refused(dataset, ml_engineer):
    add_to_dataset(dataset, AssetFactory(status=AssetStatus.INGESTED))
    with pytest.raises(ApplicationError) as refused:
        snapshot_create(dataset_slug="faces", actor=ml_engineer)
    assert refused.value.code == "empty_snapshot"


def test_only_ml_engineers_and_operators_build_snapshots(dataset, cleared, reviewer):
    with pytest.raises(PermissionDenied):
        snapshot_create(dataset_slug="faces", actor=reviewer)


def test_approval_needs_two_distinct_reviewers_neither_the_builder(dataset, cleared, ml_engineer, reviewer, second_reviewer):
    snapshot_id = str(snapshot_create(dataset_slug="faces", actor=ml_engineer).pk)
    first = snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    assert SnapshotReviewResultSerializer(first).data == {
        "snapshot_id": snapshot_id,
        "status": "in_review",
        "approvals": ["rita"],
    }
    with pytest.raises(ApplicationError) as twice:
        snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    assert twice.value.code == "already_approved_by_you"
    second = snapshot_approve(snapshot_id=snapshot_id, reviewer=second_reviewer)
    assert second.status == "approved" and snapshot_approvals(second) == ["rita", "ravi"]


def test_the_builder_cannot_approve_even_as_a_reviewer(dataset, cleared, ml_engineer):
    from core.users import user_add

    user_add(username=ml_engineer.username, role="reviewer")
    snapshot_id = str(snapshot_create(dataset_slug="faces", actor=ml_engineer).pk)
    with pytest.raises(PermissionDenied):
        snapshot_approve(snapshot_id=snapshot_id, reviewer=ml_engineer)


def test_non_reviewers_cannot_approve(dataset, cleared, ml_engineer, compliance):
    snapshot_id = str(snapshot_create(dataset_slug="faces", actor=ml_engineer).pk)
    with pytest.raises(PermissionDenied):
        snapshot_approve(snapshot_id=snapshot_id, reviewer=compliance)


def test_a_rejected_snapshot_is_final(dataset, cleared, ml_engineer, reviewer, second_reviewer):
    snapshot_id = str(snapshot_create(dataset_slug="faces", actor=ml_engineer).pk)
    assert snapshot_reject(snapshot_id=snapshot_id, reviewer=reviewer, reason="wrong crop").status == "rejected"
    with pytest.raises(ApplicationError) as refused:
        snapshot_approve(snapshot_id=snapshot_id, reviewer=second_reviewer)
    assert refused.value.code == "not_in_review"


def test_rejection_needs_a_reason(dataset, cleared, ml_engineer, reviewer):
    snapshot_id = str(snapshot_create(dataset_slug="faces", actor=ml_engineer).pk)
    with pytest.raises(ApplicationError):
        snapshot_reject(snapshot_id=snapshot_id, reviewer=reviewer, reason="  ")


def test_revoking_a_consent_withdraws_its_assets_and_taints_approved_snapshots(
    dataset, cleared, ml_engineer, reviewer, second_reviewer, operator
):
    snapshot_id = str(snapshot_create(dataset_slug="faces", actor=ml_engineer).pk)
    snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    snapshot_approve(snapshot_id=snapshot_id, reviewer=second_reviewer)
    consent = cleared[0].consent
    result = consent_revoke(consent_id=str(consent.pk), actor=operator, reason="contributor asked")
    assert sorted(result.withdrawn_assets) == sorted(str(a.pk) for a in cleared)
    assert result.tainted_snapshots == [snapshot_id]
    assert {a.status for a in consent.assets.all()} == {AssetStatus.WITHDRAWN}
    assert ConsentEvent.objects.filter(consent=consent, kind="revoked").count() == 1
    types = list(AuditEvent.objects.values_list("event_type", flat=True))
    assert "consent.revoked" in types and types.count("asset.status_changed") >= 5
    assert auditlog_verify().valid


def test_a_tainted_snapshot_can_never_be_approved(dataset, cleared, ml_engineer, reviewer, operator):
    snapshot_id = str(snapshot_create(dataset_slug="faces", actor=ml_engineer).pk)
    consent_revoke(consent_id=str(cleared[0].consent_id), actor=operator, reason="revoked")
    with pytest.raises(ApplicationError) as refused:
        snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    assert refused.value.code == "snapshot_tainted"


def test_the_frozen_list_does_not_follow_later_dataset_changes(dataset, cleared, ml_engineer):
    snapshot = snapshot_create(dataset_slug="faces", actor=ml_engineer)
    add_to_dataset(dataset, AssetFactory(status=AssetStatus.CLEAR))
    assert SnapshotMember.objects.filter(snapshot_id=snapshot.pk).count() == 5


def test_prove_gives_a_path_that_folds_to_the_root(dataset, cleared, ml_engineer):
    snapshot = snapshot_create(dataset_slug="faces", actor=ml_engineer)
    target = cleared[2]
    proof = SnapshotProofSerializer(snapshot_prove(snapshot_id=snapshot.pk, sha256=target.sha256)).data
    assert proof["included"] is True
    assert proof["leaf"] == f"{target.sha256}:{target.consent_id}:{target.consent.digest}"
    node = hashlib.sha256(b"\x00" + proof["leaf"].encode()).digest()
    assert node.hex() == proof["leaf_hash"]
    for step in proof["proof"]:
        sibling = bytes.fromhex(step["hash"])
        node = merkle.node_hash(sibling, node) if step["side"] == "left" else merkle.node_hash(node, sibling)
    assert node.hex() == snapshot.merkle_root == proof["merkle_root"]


def test_prove_says_clearly_when_a_file_is_not_included(dataset, cleared, ml_engineer):
    snapshot = snapshot_create(dataset_slug="faces", actor=ml_engineer)
    proof = snapshot_prove(snapshot_id=snapshot.pk, sha256="0" * 64)
    assert (proof.included, proof.path, proof.leaf_hash) == (False, [], None)


def test_unknown_snapshot_ids_are_refused_not_crashed(reviewer):
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(ApplicationError) as refused:
            snapshot_approve(snapshot_id=bad, reviewer=reviewer)
        assert refused.value.code == "unknown_snapshot"


def test_snapshot_transitions_are_in_the_audit_log(dataset, cleared, ml_engineer, reviewer):
    snapshot_id = str(snapshot_create(dataset_slug="faces", actor=ml_engineer).pk)
    snapshot_reject(snapshot_id=snapshot_id, reviewer=reviewer, reason="no")
    moves = [
        (e.details["from"], e.details["to"])
        for e in AuditEvent.objects.filter(subject_id=snapshot_id, event_type="snapshot.status_changed")
    ]
    assert moves == [("draft", "in_review"), ("in_review", "rejected")]
    assert SnapshotStatus.REJECTED == "rejected"


def test_a_snapshot_whose_consent_expired_since_it_was_built_cannot_be_approved(dataset, ml_engineer, reviewer):
    from datetime import timedelta

    from django.utils import timezone

    consent = ConsentFactory(expires_at=timezone.now() + timedelta(days=1))
    add_to_dataset(dataset, AssetFactory(consent=consent))
    snapshot_id = str(snapshot_create(dataset_slug="faces", actor=ml_engineer).pk)
    # Stands in for a day passing: move the expiry into the past rather than the clock forward.
    type(consent).objects.filter(pk=consent.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ApplicationError) as refused:
        snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    assert refused.value.code == "consent_lapsed"


def test_the_root_does_not_depend_on_how_many_leaves_are_read_back_at_once(dataset, cleared, ml_engineer, monkeypatch):
    from provenance.services import snapshot_members

    whole = snapshot_create(dataset_slug="faces", actor=ml_engineer)
    monkeypatch.setattr(snapshot_members, "_LEAF_BLOCK", 2)  # 5 leaves: blocks of 2, 2 and 1
    blocks = snapshot_create(dataset_slug="faces", actor=ml_engineer)
    leaves = sorted(f"{a.sha256}:{a.consent_id}:{a.consent.digest}".encode("ascii") for a in cleared)
    expected = merkle.merkle_root([merkle.leaf_hash(leaf) for leaf in leaves]).hex()
    assert whole.merkle_root == blocks.merkle_root == expected
    members = SnapshotMember.objects.filter(snapshot=blocks).order_by("index")
    assert [m.asset_sha256 for m in members] == sorted(a.sha256 for a in cleared)
    assert [m.index for m in members] == [0, 1, 2, 3, 4]


def test_the_database_refuses_to_delete_an_asset_a_snapshot_holds(dataset, cleared, ml_engineer):
    from django.db import IntegrityError, connection, transaction

    outside = AssetFactory(status=AssetStatus.CLEAR)
    snapshot_create(dataset_slug="faces", actor=ml_engineer)
    # Raw SQL, past the ORM's on_delete=PROTECT: the guard is the database's own.
    with connection.cursor() as cursor:
        with pytest.raises(IntegrityError, match="member of a snapshot"), transaction.atomic():
            cursor.execute("DELETE FROM provenance_asset WHERE id = %s", [cleared[0].pk])
        cursor.execute("DELETE FROM provenance_asset WHERE id = %s", [outside.pk])
        assert cursor.rowcount == 1
    assert SnapshotMember.objects.filter(asset_id=cleared[0].pk).exists()
