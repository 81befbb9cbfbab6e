"""Who may call which endpoint. Which *rows* they see is decided by the querysets' `visible_to`.

A view first checks the caller's role here (no role: 403, no credentials: 401), then looks its
object up in the caller's visible queryset, so another user's object answers 404 and its
existence never leaks.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from core.roles import Role, has_role
from provenance.models import Contributor

# Everyone with a role: what a read endpoint needs before its queryset scopes the rows.
ANY_ROLE: tuple[str, ...] = tuple(Role.values)
# Roles whose querysets (`Asset.objects.visible_to`, `consents_visible_to`) show consent data.
CONSENT_READERS: tuple[str, ...] = (Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE, Role.CONTRIBUTOR)
# Roles that see snapshots (`Snapshot.objects.visible_to`).
SNAPSHOT_READERS: tuple[str, ...] = (Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE, Role.ML_ENGINEER)


def HasRole(*roles: str) -> type[BasePermission]:
    """A permission class that lets in authenticated, active users holding any of `roles`."""
    if not roles:
        raise ValueError("HasRole needs at least one role")
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise ValueError(f"unknown role(s) {sorted(unknown)}")

    class _HasRole(BasePermission):
        message = f"this needs one of the roles: {', '.join(roles)}"

        def has_permission(self, request: Request, view: APIView) -> bool:
            # Anonymous callers fail here too; DRF then answers 401 (not 403) because the
            # token authenticator offers a WWW-Authenticate challenge.
            return bool(request.user and request.user.is_authenticated and has_role(request.user, *roles))

    _HasRole.__name__ = _HasRole.__qualname__ = f"HasRole({', '.join(roles)})"
    return _HasRole


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
