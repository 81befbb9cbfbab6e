"""What the audits of some assets concluded, for provenance's report exports (which may not
import auditing): every auditor run with its version, and every finding with how it was
resolved, by whom and why. Registered in AuditingConfig.ready()."""

from __future__ import annotations

from auditing.models import AuditRun, Finding, FindingStatus
from provenance.exports.records import AuditorRun, AuditOutcome, FindingOutcome


def audit_outcomes(asset_ids: list[str]) -> dict[str, AuditOutcome]:
    runs: dict[str, list[AuditorRun]] = {}
    for asset_id, auditor, version, status in (
        AuditRun.objects.filter(asset_id__in=asset_ids)
        .order_by("auditor", "auditor_version", "id")
        .values_list("asset_id", "auditor", "auditor_version", "status")
    ):
        runs.setdefault(str(asset_id), []).append(AuditorRun(auditor=auditor, version=version, status=status))
    findings: dict[str, list[FindingOutcome]] = {}
    for asset_id, auditor, version, code, score, status, resolved_by, resolved_at, reason, consent_id in (
        Finding.objects.filter(asset_id__in=asset_ids)
        .order_by("created_at", "id")
        .values_list(
            "asset_id",
            "auditor",
            "auditor_version",
            "code",
            "score",
            "status",
            "resolved_by__username",
            "resolved_at",
            "resolution_reason",
            "covering_consent_id",
        )
    ):
        if status == FindingStatus.INFORMATIONAL:  # no one decided it: the consent that covers it is its reason
            reason = f"informational: covered by likeness consent {consent_id}"
        findings.setdefault(str(asset_id), []).append(
            FindingOutcome(
                auditor=auditor,
                version=version,
                code=code,
                score=score,
                status=status,
                resolved_by=resolved_by or "",
                resolved_at=resolved_at.isoformat() if resolved_at else "",
                reason=reason,
            )
        )
    return {
        asset_id: AuditOutcome(runs=tuple(runs.get(asset_id, ())), findings=tuple(findings.get(asset_id, ())))
        for asset_id in set(runs) | set(findings)
    }
