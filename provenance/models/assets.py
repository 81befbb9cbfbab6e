from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.models import TimeStampedModel
from core.roles import Actor, Role, user_roles
from provenance.models.consent import ConsentRecord
from provenance.models.contributors import Contributor, Source


class AssetStatus(models.TextChoices):
    INGESTED = "ingested"
    AUDITING = "auditing"
    CLEAR = "clear"
    FLAGGED = "flagged"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # consent revoked
    ERASED = "erased"  # blob purged on an erasure request; the row stays as a tombstone


_GONE = {AssetStatus.WITHDRAWN, AssetStatus.ERASED}
ASSET_TRANSITIONS: dict[str, set[str]] = {
    AssetStatus.INGESTED: {
        AssetStatus.AUDITING,
        AssetStatus.CLEAR,
        AssetStatus.FLAGGED,
        AssetStatus.APPROVED,
        AssetStatus.REJECTED,
        *_GONE,
    },
    AssetStatus.AUDITING: {AssetStatus.INGESTED, AssetStatus.CLEAR, AssetStatus.FLAGGED, *_GONE},
    AssetStatus.CLEAR: {AssetStatus.AUDITING, AssetStatus.FLAGGED, AssetStatus.APPROVED, AssetStatus.REJECTED, *_GONE},
    # flagged -> clear: a reviewer dismissed every finding.
    AssetStatus.FLAGGED: {AssetStatus.AUDITING, AssetStatus.CLEAR, AssetStatus.APPROVED, AssetStatus.REJECTED, *_GONE},
    AssetStatus.APPROVED: {AssetStatus.AUDITING, AssetStatus.FLAGGED, AssetStatus.REJECTED, *_GONE},
    AssetStatus.REJECTED: {*_GONE},
    AssetStatus.WITHDRAWN: {AssetStatus.ERASED},
    AssetStatus.ERASED: set(),
}
# Only these may enter a snapshot.
ASSET_ELIGIBLE = {AssetStatus.CLEAR, AssetStatus.APPROVED}


class AssetQuerySet(models.QuerySet):
    def visible_to(self, user: Actor) -> AssetQuerySet:
        """The one rule for who sees which images: the API, CLI and web UI all use it."""
        roles = user_roles(user)
        if roles & {Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE}:
            return self.all()
        if Role.CONTRIBUTOR in roles:
            return self.filter(contributor__user=user)
        return self.none()

    def review_queue(self) -> AssetQuerySet:
        return self.filter(Q(status=AssetStatus.FLAGGED) | Q(status=AssetStatus.INGESTED) | Q(status=AssetStatus.CLEAR))


class Asset(TimeStampedModel):
    """One training image, content-addressed by the sha256 of its bytes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.BigIntegerField()
    format = models.CharField(max_length=16)
    mime_type = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=AssetStatus.choices, default=AssetStatus.INGESTED, db_index=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    original_name = models.CharField(max_length=1024)
    caption = models.TextField(blank=True)
    phash = models.CharField(max_length=16)
    dhash = models.CharField(max_length=16)
    metadata = models.JSONField(default=dict)
    c2pa = models.JSONField(null=True, blank=True)
    contributor = models.ForeignKey(Contributor, on_delete=models.PROTECT, related_name="assets")
    consent = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="assets")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="assets")

    objects = AssetQuerySet.as_manager()

    def __str__(self) -> str:
        return f"asset {self.sha256[:12]} ({self.status})"
