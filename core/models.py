from __future__ import annotations

from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AppendOnlyModel(models.Model):
    """Rows that are evidence: written once, never updated or deleted through the ORM."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} rows are append-only")


class EventType(models.TextChoices):
    USER_ADDED = "user.added"
    USER_ROLE_ADDED = "user.role_added"
    CONTRIBUTOR_ADDED = "contributor.added"
    DATASET_CREATED = "dataset.created"
    DATASET_ASSET_ADDED = "dataset.asset_added"
    DATASET_CONTRIBUTOR_ENROLLED = "dataset.contributor_enrolled"
    DATASET_CONTRIBUTOR_UNENROLLED = "dataset.contributor_unenrolled"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_RENEWED = "consent.renewed"
    CONSENT_EXPIRED = "consent.expired"
    CONSENT_REVOKED = "consent.revoked"
    INGEST_BATCH = "ingest.batch"
    ASSET_INGESTED = "asset.ingested"
    ASSET_STATUS_CHANGED = "asset.status_changed"
    ASSET_REVIEWED = "asset.reviewed"
    SNAPSHOT_CREATED = "snapshot.created"
    SNAPSHOT_STATUS_CHANGED = "snapshot.status_changed"
    SNAPSHOT_REVIEWED = "snapshot.reviewed"
    AUDIT_RUN_FINISHED = "audit.run_finished"
    FINDING_RESOLVED = "finding.resolved"
    PROTECTED_WORK_ADDED = "protected_work.added"
    PKI_INITIALISED = "pki.initialised"
    SNAPSHOT_EXPORTED = "snapshot.exported"
    BASE_MODEL_REGISTERED = "base_model.registered"
    BASE_MODEL_STATUS_CHANGED = "base_model.status_changed"
    BASE_MODEL_REVIEWED = "base_model.reviewed"
    TRAINING_REQUESTED = "training.requested"
    TRAINING_REFUSED = "training.refused"
    TRAINING_STATUS_CHANGED = "training.status_changed"
    MODEL_CREATED = "model.created"
    GENERATION_REQUESTED = "generation.requested"
    GENERATION_REFUSED = "generation.refused"
    GENERATION_STATUS_CHANGED = "generation.status_changed"
    OUTPUT_RELEASED = "output.released"
    OUTPUT_WITHHELD = "output.withheld"


class AuditEvent(models.Model):
    """One link of the hash chain. `hash` covers every other field and the previous hash."""

    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    event_type = models.CharField(max_length=64, choices=EventType.choices)
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64)
    details = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type} {self.subject_type}:{self.subject_id} by {self.actor}"


class AuditChainHead(models.Model):
    """A single row: the last link. Appenders lock it, so the chain never forks; verify compares
    it with the last row, so deleting events from the end is detected too."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit chain head at {self.seq}"
