"""Consent is event-sourced: a grant is one immutable row; renewals, expiries and revocations are
new ConsentEvent rows. The current state is a fold over them (provenance.selectors)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from core.models import AppendOnlyModel
from provenance.models.contributors import Contributor, EvidenceDocument


class ConsentScope(models.TextChoices):
    AI_TRAINING = "ai_training"
    GENERATIVE_TRAINING = "generative_training"
    COMMERCIAL_USE = "commercial_use"
    LIKENESS = "likeness"


class ConsentRecord(AppendOnlyModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contributor = models.ForeignKey(Contributor, on_delete=models.PROTECT, related_name="consents")
    scopes = models.JSONField()
    terms_version = models.CharField(max_length=100)
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    evidence = models.ForeignKey(EvidenceDocument, on_delete=models.PROTECT, related_name="consents")
    # SHA-256 of the canonical consent document (evidence and depicted persons by digest):
    # the same consent file ingested twice is one record, and snapshots pin this digest.
    digest = models.CharField(max_length=64, unique=True)
    document = models.JSONField()
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    recorded_by = models.CharField(max_length=150)

    def __str__(self) -> str:
        return f"consent {self.id} ({', '.join(self.scopes)})"


class DepictedPerson(AppendOnlyModel):
    """A person shown in the images whose likeness consent is part of the grant."""

    consent = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="depicted_persons")
    name = models.CharField(max_length=200)
    scopes = models.JSONField()
    evidence = models.ForeignKey(EvidenceDocument, on_delete=models.PROTECT, related_name="+")


class ConsentEventKind(models.TextChoices):
    RENEWED = "renewed"
    EXPIRED = "expired"
    REVOKED = "revoked"


class ConsentEvent(AppendOnlyModel):
    consent = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=ConsentEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="the new expiry, for a renewal")

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            # A consent is revoked at most once: the second revocation is refused by the database too.
            models.UniqueConstraint(fields=["consent"], condition=models.Q(kind="revoked"), name="one_revocation"),
        ]
