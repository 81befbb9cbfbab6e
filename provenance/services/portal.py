"""The contributor portal's one write of its own: when a contributor last looked at their home page.

Not a governance write (no consent, image or snapshot changes), so no audit event.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from provenance.models import Contributor


def contributor_portal_visit(*, contributor: Contributor, at: datetime | None = None) -> datetime | None:
    """Record that `contributor` saw their home page at `at` (now); returns the visit recorded
    before this one (None for a first visit)."""
    at = at or timezone.now()
    previous = Contributor.objects.filter(pk=contributor.pk).values_list("portal_visited_at", flat=True).first()
    Contributor.objects.filter(pk=contributor.pk).update(portal_visited_at=at)
    contributor.portal_visited_at = at
    return previous
