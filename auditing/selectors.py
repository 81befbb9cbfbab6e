from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from auditing.models import Finding
from core.roles import Actor
from provenance.models import Asset


def findings_visible_to(user: Actor) -> QuerySet[Finding]:
    """Findings follow their asset's visibility (one rule: Asset.objects.visible_to)."""
    return Finding.objects.filter(asset__in=Asset.objects.visible_to(user)).select_related("asset")


def dataset_audit_report(*, dataset) -> list[Asset]:
    """Each asset of the dataset with its findings prefetched (`audit_findings`), oldest first:
    what the `audit` command reports."""
    findings = Prefetch("findings", queryset=Finding.objects.order_by("created_at", "id"), to_attr="audit_findings")
    return list(Asset.objects.filter(memberships__dataset=dataset).order_by("created_at", "sha256").prefetch_related(findings))
