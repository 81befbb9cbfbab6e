"""Snapshots: frozen, Merkle-rooted lists of consented, cleared assets, approved by four eyes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from core.audit import actor_name, audit_append
from core.bulk import bulk_insert
from core.exceptions import ApplicationError, PermissionDenied
from core.four_eyes import FourEyes
from core.models import EventType
from core.roles import Actor, Role, actor_user, has_role
from core.state import StateMachine
from provenance import merkle
from provenance.models import (
    AssetStatus,
    DatasetMembership,
    Decision,
    ReviewDecision,
    Snapshot,
    SnapshotExclusion,
    SnapshotMember,
    SnapshotStatus,
)
from provenance.models.assets import ASSET_ELIGIBLE
from provenance.models.snapshots import REQUIRED_APPROVALS, SNAPSHOT_TRANSITIONS
from provenance.selectors import (
    consent_gap,
    consent_states,
    dataset_get,
    snapshot_approvals,
    snapshot_get,
    snapshot_lapsed_refusal,
    snapshot_tainted_refusal,
)
from provenance.services.snapshot_members import members_insert, members_root

# Keyed by the plain value: member rows are read with values_list.
_STATUS_EXCLUSION: dict[str, str] = {
    AssetStatus.INGESTED: "not_cleared",
    AssetStatus.AUDITING: "not_cleared",
    AssetStatus.FLAGGED: "flagged",
    AssetStatus.REJECTED: "rejected",
    AssetStatus.WITHDRAWN: "withdrawn",
    AssetStatus.ERASED: "erased",
}


SNAPSHOT_STATES = StateMachine(Snapshot, SNAPSHOT_TRANSITIONS, EventType.SNAPSHOT_STATUS_CHANGED, "snapshot")


def snapshot_transition(*, snapshot_id, to: str, actor: Actor, reason: str = "") -> Snapshot:
    return SNAPSHOT_STATES.transition(snapshot_id, to=to, actor=actor, reason=reason)


def _exclusion_reason(status: str, gap: str | None) -> tuple[str, str] | None:
    if status in _STATUS_EXCLUSION:
        return _STATUS_EXCLUSION[status], f"asset is {status}"
    if gap:
        return "no_consent", gap
    return None


@transaction.atomic
def snapshot_create(*, dataset_slug: str, actor: Actor) -> Snapshot:
    """Freeze the dataset's eligible assets into a snapshot and submit it for review. The
    assets left out are on `snapshot.exclusions`, each with its reason."""
    if not has_role(actor, Role.ML_ENGINEER, Role.OPERATOR):
        raise PermissionDenied(f"{actor_name(actor)} may not create snapshots (ml_engineer or operator)")
    dataset = dataset_get(slug=dataset_slug)
    in_dataset = DatasetMembership.objects.filter(dataset=dataset).order_by()
    states = consent_states(list(in_dataset.values_list("asset__consent_id", flat=True).distinct()))
    gaps = {consent_id: consent_gap(state, dataset.scopes) for consent_id, state in states.items()}
    blocked = [consent_id for consent_id, gap in gaps.items() if gap]
    # Only the rows left out come back to Python; the members are written by the database.
    rows = list(
        in_dataset.filter(Q(asset__status__in=list(_STATUS_EXCLUSION)) | Q(asset__consent_id__in=blocked)).values_list(
            "asset_id", "asset__sha256", "asset__status", "asset__consent_id"
        )
    )
    rows.sort(key=lambda row: row[1])  # the order of the leaves, for the order of the list
    excluded = []
    for asset_id, _, status, consent_id in rows:
        reason = _exclusion_reason(status, gaps[consent_id])
        if reason is not None:
            excluded.append((asset_id, *reason))
    # Members carry no database link to their snapshot (SnapshotMember), so they are written
    # first and the snapshot row, with the root computed from them, after.
    snapshot_id = uuid.uuid4()
    count = members_insert(snapshot_id=snapshot_id, dataset_id=dataset.pk, eligible=ASSET_ELIGIBLE, blocked=blocked)
    if not count:
        raise ApplicationError(
            f"dataset {dataset.slug} has no asset eligible for a snapshot",
            code="empty_snapshot",
            extra={"excluded": [{"asset_id": str(a), "reason": r, "detail": d} for a, r, d in excluded]},
        )
    snapshot = Snapshot.objects.create(
        id=snapshot_id,
        dataset=dataset,
        scopes=dataset.scopes,
        merkle_root=members_root(snapshot_id=snapshot_id, count=count).hex(),
        asset_count=count,
        created_by=actor,
    )
    bulk_insert(
        SnapshotExclusion, ("snapshot_id", "asset_id", "reason", "detail"), ((snapshot.pk, a, r, d) for a, r, d in excluded)
    )
    audit_append(
        actor=actor,
        event_type=EventType.SNAPSHOT_CREATED,
        subject=snapshot,
        details={
            "dataset": dataset.slug,
            "merkle_root": snapshot.merkle_root,
            "asset_count": snapshot.asset_count,
            "excluded_count": len(excluded),
            "leaf_format": snapshot.leaf_format,
        },
    )
    return snapshot_transition(snapshot_id=snapshot.pk, to=SnapshotStatus.IN_REVIEW, actor=actor, reason="submitted for review")


SNAPSHOT_REVIEW = FourEyes("snapshot", "built", required=REQUIRED_APPROVALS)


def _locked_for_review(snapshot_id: str, reviewer: Actor) -> Snapshot:
    snapshot = snapshot_get(snapshot_id=snapshot_id)
    snapshot = Snapshot.objects.select_for_update().select_related("dataset", "created_by").get(pk=snapshot.pk)
    if has_role(reviewer, Role.REVIEWER):
        tainted = snapshot_tainted_refusal(snapshot)
        if tainted is not None:
            raise tainted
    SNAPSHOT_REVIEW.check_reviewer(snapshot, reviewer=reviewer, creator_id=snapshot.created_by_id)
    return snapshot


@transaction.atomic
def snapshot_approve(*, snapshot_id: str, reviewer: Actor) -> Snapshot:
    """Record one approval; the second distinct reviewer's approval approves the snapshot. A
    snapshot holding a consent that lapsed since it was built is refused (`consent_lapsed`)."""
    snapshot = _locked_for_review(snapshot_id, reviewer)
    lapsed = snapshot_lapsed_refusal(snapshot)
    if lapsed is not None:
        raise lapsed
    completes = SNAPSHOT_REVIEW.approval_completes(snapshot, reviewer=reviewer, approvals=snapshot_approvals(snapshot))
    ReviewDecision(
        reviewer=actor_user(reviewer), subject_type="snapshot", snapshot=snapshot, decision=Decision.APPROVE, reason="approved"
    ).save()
    audit_append(actor=reviewer, event_type=EventType.SNAPSHOT_REVIEWED, subject=snapshot, details={"decision": "approve"})
    if completes:
        snapshot = snapshot_transition(
            snapshot_id=snapshot.pk, to=SnapshotStatus.APPROVED, actor=reviewer, reason=SNAPSHOT_REVIEW.approved_reason
        )
    return snapshot


@transaction.atomic
def snapshot_reject(*, snapshot_id: str, reviewer: Actor, reason: str) -> Snapshot:
    snapshot = _locked_for_review(snapshot_id, reviewer)
    SNAPSHOT_REVIEW.check_rejection_reason(reason)
    ReviewDecision(
        reviewer=actor_user(reviewer), subject_type="snapshot", snapshot=snapshot, decision=Decision.REJECT, reason=reason
    ).save()
    audit_append(
        actor=reviewer, event_type=EventType.SNAPSHOT_REVIEWED, subject=snapshot, details={"decision": "reject", "reason": reason}
    )
    snapshot = snapshot_transition(snapshot_id=snapshot.pk, to=SnapshotStatus.REJECTED, actor=reviewer, reason=reason)
    return snapshot


@dataclass(frozen=True)
class SnapshotProof:
    """Whether an image (by sha256) is in a snapshot and, if it is, its leaf and the RFC 9162
    audit path from that leaf to the snapshot's Merkle root."""

    snapshot: Snapshot
    sha256: str
    tree_size: int
    leaf: bytes | None = None
    leaf_index: int | None = None
    path: list[tuple[merkle.Side, bytes]] = field(default_factory=list)

    @property
    def included(self) -> bool:
        return self.leaf is not None

    @property
    def leaf_hash(self) -> bytes | None:
        return merkle.leaf_hash(self.leaf) if self.leaf is not None else None


def snapshot_prove(*, snapshot_id: str, sha256: str) -> SnapshotProof:
    """An RFC 9162 inclusion proof that an image with this sha256 is in the snapshot."""
    snapshot = snapshot_get(snapshot_id=snapshot_id)
    members = list(
        SnapshotMember.objects.filter(snapshot=snapshot)
        .order_by("index")
        .values_list("asset_sha256", "consent_id", "consent_digest")
    )
    index = next((i for i, (sha, _, _) in enumerate(members) if sha == sha256), None)
    if index is None:
        return SnapshotProof(snapshot=snapshot, sha256=sha256, tree_size=len(members))
    leaf_bytes = [merkle.snapshot_leaf(asset_sha256=s, consent_id=str(c), consent_digest=d) for s, c, d in members]
    leaves = [merkle.leaf_hash(leaf) for leaf in leaf_bytes]
    return SnapshotProof(
        snapshot=snapshot,
        sha256=sha256,
        tree_size=len(members),
        leaf=leaf_bytes[index],
        leaf_index=index,
        path=merkle.inclusion_proof(leaves, index),
    )
