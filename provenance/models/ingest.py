from __future__ import annotations

import uuid

from django.db import models

from core.models import TimeStampedModel
from provenance.models.assets import Asset
from provenance.models.consent import ConsentRecord
from provenance.models.contributors import Contributor, Source
from provenance.models.datasets import Dataset


class IngestBatch(TimeStampedModel):
    """One ingest request and what happened to each of its files, so a contributor can see it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.CharField(max_length=150)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="ingest_batches")
    contributor = models.ForeignKey(Contributor, on_delete=models.PROTECT, related_name="ingest_batches")
    consent = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="ingest_batches")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    accepted_count = models.PositiveIntegerField(default=0)
    refused_count = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    @property
    def accepted_items(self) -> models.QuerySet[IngestItem]:
        return self.items.filter(accepted=True).order_by("position")

    @property
    def refused_items(self) -> models.QuerySet[IngestItem]:
        return self.items.filter(accepted=False).order_by("position")


class IngestItem(models.Model):
    batch = models.ForeignKey(IngestBatch, on_delete=models.PROTECT, related_name="items")
    position = models.PositiveIntegerField()
    path = models.TextField()
    accepted = models.BooleanField()
    reason = models.CharField(max_length=32, blank=True)
    detail = models.TextField(blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["batch", "position"]

    def __str__(self) -> str:
        return f"{self.path}: {'accepted' if self.accepted else self.reason}"
