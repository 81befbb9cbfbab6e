"""Thin adapters: a service call, nothing else. Unknown keyword arguments are accepted and logged
so that a rolling deploy never breaks messages already queued."""

from __future__ import annotations

import logging

from celery import shared_task

from provenance.services.consent import consent_expire_due

logger = logging.getLogger(__name__)


@shared_task(name="provenance.expire_consents")
def expire_consents(**unknown) -> list[str]:
    """Beat: record the consents whose expiry passed (see consent_expire_due)."""
    if unknown:
        logger.warning("provenance.expire_consents ignores unknown arguments %s", sorted(unknown))
    return consent_expire_due()
