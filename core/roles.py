"""Roles are Django groups; one name each, shared by the API, the CLI and the web UI."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models


class Role(models.TextChoices):
    CONTRIBUTOR = "contributor"
    REVIEWER = "reviewer"
    ML_ENGINEER = "ml_engineer"
    COMPLIANCE = "compliance"
    OPERATOR = "operator"
    PRODUCT = "product"  # product teams: the generation API


def user_roles(user: AbstractBaseUser | AnonymousUser | None) -> set[str]:
    if user is None or not user.is_authenticated or not user.is_active:
        return set()
    cached = getattr(user, "_cleanroom_roles", None)
    if cached is None:
        names = user.groups.filter(name__in=Role.values).values_list("name", flat=True)
        cached = set(names)
        user._cleanroom_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def require_role(actor, *roles: str, action: str) -> None:
    """Refuse unless `actor` has one of `roles`. `actor=None` is the platform's own operator
    at the command line (whoever can run `manage.py` already holds the database)."""
    from core.exceptions import PermissionDenied

    if actor is not None and not has_role(actor, *roles):
        name = getattr(actor, "username", str(actor))
        raise PermissionDenied(f"{name} may not {action} (needs {' or '.join(roles)})")
