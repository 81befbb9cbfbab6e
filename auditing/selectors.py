from __future__ import annotations

from django.db.models import QuerySet

from auditing.models import Finding
from core.roles import Actor
from provenance.models import Asset


def findings_visible_to(user: Actor) -> QuerySet[Finding]:
    """Findings follow their asset's visibility (one rule: Asset.objects.visible_to)."""
    return Finding.objects.filter(asset__in=Asset.objects.visible_to(user)).select_related("asset")


def dataset_audit_report(*, dataset) -> list[dict]:
    """Each asset of the dataset with its status and findings (the `audit` command's JSON)."""
    assets = list(Asset.objects.filter(memberships__dataset=dataset).order_by("created_at", "sha256"))
    findings: dict = {asset.pk: [] for asset in assets}
    for finding in Finding.objects.filter(asset__in=assets).order_by("created_at"):
        findings[finding.asset_id].append(
            {
                "finding_id": str(finding.pk),
                "auditor": finding.auditor,
                "auditor_version": finding.auditor_version,
                "code": finding.code,
                "score": finding.score,
                "status": finding.status,
                "detail": finding.details,
            }
        )
    return [{"asset_id": str(a.pk), "sha256": a.sha256, "status": a.status, "findings": findings[a.pk]} for a in assets]
