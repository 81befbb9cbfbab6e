from __future__ import annotations

import uuid

from django.conf import settings
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
    USER_TOKEN_ISSUED = "user.token_issued"  # noqa: S105 (an event name, not a secret)
    USER_TOKEN_REVOKED = "user.token_revoked"  # noqa: S105 (an event name, not a secret)
    USER_PASSWORD_SET = "user.password_set"  # noqa: S105 (an event name, not a secret)
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
    FINDING_RECLASSIFIED = "finding.reclassified"  # informational -> open: its covering consent lapsed
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
    BACKGROUND_JOB_STATUS_CHANGED = "background_job.status_changed"


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


class ApiToken(models.Model):
    """An API credential (`Authorization: Token <key>`). Only the SHA-256 of its key is kept: the
    key is shown once, when the token is issued, and nothing in this table can be presented
    instead of it. It works until `expires_at`, or until it is revoked (core/tokens.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"API token {self.pk} of {self.user_id}"


class LoginFailures(models.Model):
    """Recent failed log-ins of one account or one client address (core/login_guard.py).

    A row, not a cache entry: the counter is incremented under a row lock, so parallel guesses
    cannot all read the same count and slip past the limit. Rows older than the lockout are
    deleted as new failures come in.
    """

    class Kind(models.TextChoices):
        ACCOUNT = "account"
        ADDRESS = "address"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    # An account by the digest of the username typed (anyone can type anything, of any length);
    # an address as core.client_ip.client_identity gives it.
    key = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="login_failures_unique_key")]

    def __str__(self) -> str:
        return f"{self.failures} failed log-ins for {self.kind} {self.key}"


class BackgroundJobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class BackgroundJob(TimeStampedModel):
    """Long work a person started from a page (a bulk decision, a check of the audit chain), run
    by a worker while the page shows its progress (core/background.py). `kind` names a
    registered runner; `params` are its arguments, `result` what it returned."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=BackgroundJobStatus.choices, default=BackgroundJobStatus.QUEUED)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="background_jobs")
    params = models.JSONField(default=dict)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "updated_at"], name="background_job_status")]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (BackgroundJobStatus.SUCCEEDED, BackgroundJobStatus.FAILED)

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(100 * self.done / self.total))
