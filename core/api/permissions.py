"""Who may call which endpoint. Which *rows* they see is decided by the querysets' `visible_to`.

A view first checks the caller's role here (no role: 403, no credentials: 401), then looks its
object up in the caller's visible queryset, so another user's object answers 404 and its
existence never leaks. Every app's API uses these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAdminUser
from rest_framework.request import Request
from rest_framework.views import APIView

from core.roles import Role, has_role

# Everyone with a role: what a read endpoint needs before its queryset scopes the rows.
ANY_ROLE: tuple[str, ...] = tuple(Role.values)


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


class PermissionsByMethod:
    """One URL, two audiences: reads and writes each name their own permission classes.
    A method not listed falls back to the settings' deny-by-default."""

    permission_classes_by_method: ClassVar[dict[str, Sequence[type[BasePermission]]]]
    request: Request

    def get_permissions(self) -> list[BasePermission]:
        method = str(self.request.method)
        if not hasattr(self, method.lower()):
            return []  # no handler, nothing can run: let DRF answer 405 rather than a misleading 403
        key = "GET" if method in SAFE_METHODS else method
        return [permission() for permission in self.permission_classes_by_method.get(key, [IsAdminUser])]
