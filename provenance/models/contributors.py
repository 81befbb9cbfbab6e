from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import TimeStampedModel


class Contributor(TimeStampedModel):
    """A person or organisation that supplies images; optionally linked to a portal account."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)  # stored lower-case
    name = models.CharField(max_length=200)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="contributor"
    )
    # When the portal's home page was last shown to them (provenance.services.portal): what is
    # new for them is what happened since the visit before the present one.
    portal_visited_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class EvidenceDocument(models.Model):
    """A signed consent form, licence or receipt, stored content-addressed (see core.storage)."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.BigIntegerField()
    original_name = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"


class Source(TimeStampedModel):
    """Where images came from: a URL or a collection, who licensed them and under what."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2000, blank=True)
    collection = models.CharField(max_length=200, blank=True)
    licensor = models.CharField(max_length=200, blank=True)
    licence_spdx = models.CharField(max_length=200, blank=True, help_text="an SPDX licence id or expression")
    licence_document = models.ForeignKey(EvidenceDocument, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    acquired_on = models.DateField(null=True, blank=True)
    evidence = models.ManyToManyField(EvidenceDocument, blank=True, related_name="sources")

    def __str__(self) -> str:
        return self.url or self.collection or str(self.id)
