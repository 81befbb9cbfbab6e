from __future__ import annotations

import hashlib
import json
import uuid

from django.conf import settings
from django.db import models

from core.models import TimeStampedModel
from provenance.models import Asset, ConsentRecord


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    # Failed on settings.CLEANROOM_AUDIT_MAX_ATTEMPTS attempts: given up, with an
    # `auditor_failed` finding standing in for the auditor's verdict.
    ABANDONED = "abandoned"


AUDIT_RUN_TRANSITIONS: dict[str, set[str]] = {
    # queued -> abandoned: handed back by the reconciler after its worker died on the last attempt.
    RunStatus.QUEUED: {RunStatus.RUNNING, RunStatus.ABANDONED},
    # running -> running: the task's own message delivered again after its worker died;
    # running -> queued: the reconciler hands a run whose worker vanished back to the queue.
    RunStatus.RUNNING: {RunStatus.RUNNING, RunStatus.DONE, RunStatus.FAILED, RunStatus.QUEUED, RunStatus.ABANDONED},
    RunStatus.FAILED: {RunStatus.RUNNING, RunStatus.ABANDONED},  # retried by the next audit message
    RunStatus.DONE: set(),
    RunStatus.ABANDONED: set(),
}
# A run in one of these has its say on the asset: a verdict, or the finding that it has none.
AUDIT_RUN_SETTLED = frozenset({RunStatus.DONE, RunStatus.ABANDONED})


class AuditRun(models.Model):
    """One auditor (at one version) over one asset. Unique, so the same version never runs twice."""

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="audit_runs")
    auditor = models.CharField(max_length=32)
    auditor_version = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    # Stamped by the claim and kept fresh by the working worker (core.heartbeat): stale while
    # `running` means the worker died, and the reconciler takes the row at once.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["asset", "auditor", "auditor_version"], name="one_run_per_auditor_version")
        ]

    def __str__(self) -> str:
        return f"{self.auditor} {self.auditor_version} on asset {self.asset_id}: {self.status}"


class FindingStatus(models.TextChoices):
    OPEN = "open"  # awaits a reviewer's decision, and holds its asset back until then
    DISMISSED = "dismissed"
    CONFIRMED = "confirmed"
    # Left open by an auditor version that a newer version of the same auditor has since
    # re-audited: the newer run's findings replace it (the audit log names both).
    SUPERSEDED = "superseded"
    # Recorded and shown, but awaiting no decision and holding nothing back: what was found is
    # covered by a consent (`Finding.covering_consent`; auditing/services/likeness.py decides).
    # Becomes `open` if that consent lapses (revoked, expired).
    INFORMATIONAL = "informational"


class Finding(TimeStampedModel):
    """What an auditor found, with the evidence a reviewer needs (positions, matched work…)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="findings")
    run = models.ForeignKey(AuditRun, on_delete=models.PROTECT, related_name="findings")
    auditor = models.CharField(max_length=32)
    auditor_version = models.CharField(max_length=32)
    code = models.CharField(max_length=64)
    score = models.FloatField()
    details = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=FindingStatus.choices, default=FindingStatus.OPEN, db_index=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolution_reason = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The consent that made this finding informational (a face: the likeness consent of the
    # persons shown). Kept after that consent lapses and the finding is open again, as the record
    # of what once covered it.
    covering_consent = models.ForeignKey(ConsentRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Informational only ever on a recorded basis.
            models.CheckConstraint(
                condition=~models.Q(status="informational") | models.Q(covering_consent__isnull=False),
                name="informational_finding_has_a_consent",
            ),
        ]
        indexes = [
            # The review queue groups open findings by asset (latest, top score, count): read from
            # this index alone, in asset order, without touching the table or sorting.
            models.Index(
                fields=["asset", "created_at", "score", "auditor", "id"],
                condition=models.Q(status="open"),
                name="finding_open_by_asset",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.auditor}:{self.code} on {self.asset_id} ({self.status})"

    @property
    def consent_note(self) -> str:
        """The plain sentence saying what a covering consent means for this finding ("" when none)."""
        if self.covering_consent is None:
            return ""
        persons = ", ".join(self.covering_consent.depicted_persons.order_by("name").values_list("name", flat=True))
        named = f" ({persons})" if persons else ""
        if self.status == FindingStatus.INFORMATIONAL:
            return (
                f"Informational: the person shown{named} agreed to the use of their likeness "
                f"(consent {self.covering_consent_id}), so this face holds nothing back."
            )
        return (
            f"This face was informational under the likeness consent {self.covering_consent_id}{named}, "
            "which has since been revoked or has expired: it must be decided like any other finding."
        )

    @property
    def evidence_sha256(self) -> str:
        """The SHA-256 of the evidence a reviewer decided on: which image, which check and what it
        found (canonical JSON, as the audit log hashes its events). Kept with each decision, so
        the evidence shown then can be told apart from a later re-audit's."""
        evidence = {"asset_id": str(self.asset_id), "auditor": self.auditor, "code": self.code, "details": self.details}
        canonical = json.dumps(evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ProtectedWork(models.Model):
    """A registered copyrighted work that training data must not copy. Stored content-addressed
    like an asset, but never an Asset: it can never join a dataset or be trained on."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.CharField(max_length=255)
    reference = models.TextField(blank=True)
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    format = models.CharField(max_length=16)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    fingerprint = models.BinaryField()
    # The image embedding of the configured open_clip model (float32 little-endian), and that
    # model's version: recomputed from the stored bytes when another model is configured.
    embedding = models.BinaryField(null=True, blank=True)
    embedding_model = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    created_by = models.CharField(max_length=150)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"protected work {self.pk} ({self.owner})"


class AssetFingerprint(models.Model):
    """An asset's near-duplicate fingerprint (Fingerprint.to_bytes()) and, where a model is
    configured, its image embedding; written by its auditor."""

    asset = models.OneToOneField(Asset, on_delete=models.CASCADE, primary_key=True, related_name="fingerprint")
    fingerprint = models.BinaryField()
    embedding = models.BinaryField(null=True, blank=True)
    embedding_model = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"fingerprint of asset {self.asset_id}"


class AssetClaim(models.Model):
    """A reviewer's soft lock on an asset while they look at it, so two reviewers working the same
    queue never decide the same finding at once. It lapses by itself (`expires_at`); it is a
    courtesy between reviewers, not a governance record, so it is not in the audit log."""

    asset = models.OneToOneField(Asset, on_delete=models.CASCADE, primary_key=True, related_name="review_claim")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    claimed_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"asset {self.asset_id} held by {self.reviewer_id} until {self.expires_at:%H:%M}"
