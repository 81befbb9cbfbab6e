"""An upload from the contributor portal: files received one by one into a private staging
folder, then ingested together as one batch (provenance.services.portal_upload)."""

from __future__ import annotations

import uuid

from django.db import models

from core.models import BackgroundJob, TimeStampedModel
from provenance.models.consent import ConsentRecord
from provenance.models.contributors import Contributor
from provenance.models.datasets import Dataset
from provenance.models.ingest import IngestBatch


class UploadSession(TimeStampedModel):
    """One upload: where its files go (dataset, consent), the files received so far, and once
    processing has started, the background job that ingests them and the batch it made.

    Its state follows from those: receiving (no job yet), processing (the job runs), then the
    job's own end (succeeded: the batch holds one row per file); or abandoned, when it was left
    receiving for CLEANROOM_UPLOAD_ABANDON_AFTER_HOURS and its staged files were removed
    (`upload_sessions_sweep`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contributor = models.ForeignKey(Contributor, on_delete=models.PROTECT, related_name="upload_sessions")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="+")
    consent = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="+")
    job = models.OneToOneField(BackgroundJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    batch = models.OneToOneField(IngestBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    abandoned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"upload {self.pk} by {self.contributor_id}"


class UploadedFile(models.Model):
    """A file received whole into the session's staging folder (stored under its own id there,
    never under the name the browser sent)."""

    session = models.ForeignKey(UploadSession, on_delete=models.CASCADE, related_name="files")
    name = models.TextField()
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "name"], name="uploaded_file_unique_name")]

    def __str__(self) -> str:
        return self.name
