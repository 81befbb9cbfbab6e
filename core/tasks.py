"""Periodic work of the platform as a whole (beat): thin adapters around services."""

from __future__ import annotations

import logging

from celery import shared_task

from core.background import background_run
from core.reconcile import reconcile as reconcile_pass

logger = logging.getLogger(__name__)


@shared_task(name="core.reconcile")
def reconcile(**unknown) -> dict | None:
    """Every kind of stuck work, one pass (settings.CLEANROOM_RECONCILERS; see core.reconcile)."""
    if unknown:
        logger.warning("core.reconcile ignores unknown arguments %s", sorted(unknown))
    return reconcile_pass()


@shared_task(bind=True, name="core.run_background_job", acks_late=True)
def run_background_job(self, job_id: str, **unknown) -> str:
    """A job a person started from a page (core/background.py); returns how it ended."""
    if unknown:
        logger.warning("core.run_background_job ignores unknown arguments %s", sorted(unknown))
    return background_run(job_id, task_id=self.request.id or "").status
