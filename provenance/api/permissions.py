"""Provenance's role groups and its one object-level rule for the API; `HasRole` itself is in
core.api.permissions."""

from __future__ import annotations

from core.roles import Role, has_role
from provenance.models import Contributor

# Roles whose querysets (`Asset.objects.visible_to`, `consents_visible_to`) show consent data.
CONSENT_READERS: tuple[str, ...] = (Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE, Role.CONTRIBUTOR)
# Roles that see snapshots (`Snapshot.objects.visible_to`).
SNAPSHOT_READERS: tuple[str, ...] = (Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE, Role.ML_ENGINEER)


def may_grant_consent_for(user: object, email: str) -> bool:
    """An operator records consent for anyone; a contributor only for their own record.

    Decided from the email alone, before any lookup, so a contributor naming someone else's
    address learns nothing about whether that contributor exists.
    """
    if has_role(user, Role.OPERATOR):
        return True
    if not has_role(user, Role.CONTRIBUTOR):
        return False
    return Contributor.objects.filter(user=user, email=email.strip().lower()).exists()
