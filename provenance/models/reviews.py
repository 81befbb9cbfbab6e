from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import AppendOnlyModel
from provenance.models.assets import Asset
from provenance.models.snapshots import Snapshot


class Decision(models.TextChoices):
    APPROVE = "approve"
    REJECT = "reject"


class ReviewDecision(AppendOnlyModel):
    """A reviewer's decision with its reason: never edited; a change of mind is a new row."""

    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_decisions")
    subject_type = models.CharField(max_length=16)  # asset | snapshot (| finding, with auditing)
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions")
    snapshot = models.ForeignKey(Snapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
