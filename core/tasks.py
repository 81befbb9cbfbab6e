"""Periodic work of the platform as a whole (beat): thin adapters around services."""

from __future__ import annotations

import logging

from celery import shared_task

from core.reconcile import reconcile as reconcile_pass

logger = logging.getLogger(__name__)


@shared_task(name="core.reconcile")
def reconcile(**unknown) -> dict | None:
    """Every kind of stuck work, one pass (settings.CLEANROOM_RECONCILERS; see core.reconcile)."""
    if unknown:
        logger.warning("core.reconcile ignores unknown arguments %s", sorted(unknown))
    return reconcile_pass()
