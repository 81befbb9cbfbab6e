from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import TimeStampedModel
from core.roles import Actor, Role, user_roles
from provenance.models.assets import Asset
from provenance.models.consent import ConsentRecord
from provenance.models.datasets import Dataset


class SnapshotStatus(models.TextChoices):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    TAINTED = "tainted"  # a member's consent was revoked or expired, or its blob erased


SNAPSHOT_TRANSITIONS: dict[str, set[str]] = {
    SnapshotStatus.DRAFT: {SnapshotStatus.IN_REVIEW, SnapshotStatus.REJECTED, SnapshotStatus.TAINTED},
    SnapshotStatus.IN_REVIEW: {SnapshotStatus.APPROVED, SnapshotStatus.REJECTED, SnapshotStatus.TAINTED},
    SnapshotStatus.APPROVED: {SnapshotStatus.TAINTED},
    SnapshotStatus.REJECTED: set(),
    SnapshotStatus.TAINTED: set(),
}
SNAPSHOT_FINAL = {SnapshotStatus.REJECTED, SnapshotStatus.TAINTED}
REQUIRED_APPROVALS = 2
LEAF_FORMAT = "cleanroom-leaf-v1"


class SnapshotQuerySet(models.QuerySet):
    def visible_to(self, user: Actor) -> SnapshotQuerySet:
        roles = user_roles(user)
        if roles & {Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE, Role.ML_ENGINEER}:
            return self.all()
        return self.none()


class Snapshot(TimeStampedModel):
    """An immutable frozen list of (asset sha256, consent id, consent digest) with its Merkle root."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="snapshots")
    status = models.CharField(max_length=16, choices=SnapshotStatus.choices, default=SnapshotStatus.DRAFT)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    scopes = models.JSONField()
    merkle_root = models.CharField(max_length=64)
    asset_count = models.PositiveIntegerField()
    leaf_format = models.CharField(max_length=32, default=LEAF_FORMAT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # sha256 of the signed container (a C2PA-signed ZIP blob) once the approved snapshot is exported.
    container_sha256 = models.CharField(max_length=64, blank=True, default="")

    objects = SnapshotQuerySet.as_manager()

    def __str__(self) -> str:
        return f"snapshot {self.id} ({self.status})"


class SnapshotMember(models.Model):
    """One leaf. Rows are written once, when the snapshot is created, and never change.

    No link carries a foreign-key constraint: only snapshot_create writes these rows, in one
    statement that joins the assets and consents it copies, and a constraint is checked row by
    row (the asset link's check, which also locks each asset row, was 18 of 39 seconds to
    freeze 1,000,000 assets). That no image in a snapshot can be deleted behind the platform's
    back is kept by a trigger on the asset table instead (migration 0008): a delete of an asset
    that a member names is refused, after waiting for snapshots being built to commit.
    """

    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="members", db_constraint=False, db_index=False)
    index = models.PositiveIntegerField()
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="snapshot_members", db_constraint=False)
    asset_sha256 = models.CharField(max_length=64)
    consent = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="snapshot_members", db_constraint=False)
    consent_digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "index"], name="one_leaf_per_index"),
            models.UniqueConstraint(fields=["snapshot", "asset_sha256"], name="asset_once_per_snapshot"),
        ]

    def __str__(self) -> str:
        return f"leaf {self.index} of snapshot {self.snapshot_id}"


class SnapshotExclusion(models.Model):
    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="exclusions")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=32)
    detail = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"asset {self.asset_id} excluded from snapshot {self.snapshot_id}: {self.reason}"
