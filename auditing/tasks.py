"""Thin adapters: ids in, a service call, nothing else. Unknown keyword arguments are accepted
and logged so that a rolling deploy never breaks messages already queued."""

from __future__ import annotations

import logging

from celery import shared_task

from auditing import services

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="auditing.audit_asset", acks_late=True)
def audit_asset(self, asset_id: str, **unknown) -> str:
    if unknown:
        logger.warning("audit_asset ignores unknown arguments %s", sorted(unknown))
    try:
        return services.asset_audit_run(asset_id=asset_id, task_id=self.request.id or "")
    except Exception as exc:  # an auditor's own failure is handled inside; this is anything else
        services.audit_run_failed(asset_id=asset_id, task_id=self.request.id or "", error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(name="auditing.reconcile_audits")
def reconcile_audits(**unknown) -> list[str]:
    """Kept for beats of the previous release; `core.reconcile` covers audits now."""
    return services.audits_reconcile()


@shared_task(name="auditing.audit_assets")
def audit_assets(asset_ids: list[str], **unknown) -> int:
    """Fan-out: one message per committed ingest group, split here into one task per asset, so
    the ingest path sends one message instead of hundreds and workers still share the assets."""
    if unknown:
        logger.warning("audit_assets ignores unknown arguments %s", sorted(unknown))
    services.enqueue_each(asset_ids)
    return len(asset_ids)
