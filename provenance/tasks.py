"""Thin adapters: a service call, nothing else. Unknown keyword arguments are accepted and logged
so that a rolling deploy never breaks messages already queued."""

from __future__ import annotations

import logging

from celery import shared_task

from provenance.services.consent import consent_expire_due
from provenance.services.portal_upload import upload_sessions_sweep
from provenance.services.thumbnails import thumbnails_derive

logger = logging.getLogger(__name__)


@shared_task(name="provenance.expire_consents")
def expire_consents(**unknown) -> list[str]:
    """Beat: record the consents whose expiry passed (see consent_expire_due)."""
    if unknown:
        logger.warning("provenance.expire_consents ignores unknown arguments %s", sorted(unknown))
    return consent_expire_due()


@shared_task(name="provenance.derive_thumbnails", acks_late=True, soft_time_limit=300, time_limit=330)
def derive_thumbnails(asset_ids: list[str], **unknown) -> dict[str, list[int]]:
    """The `default` queue: each asset's missing thumbnails (see thumbnails_derive)."""
    if unknown:
        logger.warning("provenance.derive_thumbnails ignores unknown arguments %s", sorted(unknown))
    return {str(asset_id): thumbnails_derive(asset_id=str(asset_id)) for asset_id in asset_ids}


@shared_task(name="provenance.sweep_upload_sessions")
def sweep_upload_sessions(**unknown) -> list[str]:
    """Beat: portal uploads left unprocessed too long abandoned, their staged files removed
    (see upload_sessions_sweep); on the `default` queue, whose workers process the uploads and
    so share their staging folder."""
    if unknown:
        logger.warning("provenance.sweep_upload_sessions ignores unknown arguments %s", sorted(unknown))
    return upload_sessions_sweep()
