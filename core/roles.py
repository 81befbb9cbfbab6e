"""Roles are Django groups; one name each, shared by the API, the CLI and the web UI."""

from __future__ import annotations

from typing import TypeAlias, TypeGuard

from django.contrib.auth.models import AnonymousUser, User
from django.db import models

# Who acts in a service or selector: the signed-in user (`request.user`, anonymous on the public
# endpoints) or None, the platform itself (the command line, beat, a worker). `User` is the
# stock `auth.User`, the project's AUTH_USER_MODEL; swapping it means changing it here.
Actor: TypeAlias = User | AnonymousUser | None

# A user's roles are cached on the instance (one query per request); `user_add` clears it.
ROLES_CACHE = "_cleanroom_roles"


class Role(models.TextChoices):
    CONTRIBUTOR = "contributor"
    REVIEWER = "reviewer"
    ML_ENGINEER = "ml_engineer"
    COMPLIANCE = "compliance"
    OPERATOR = "operator"
    PRODUCT = "product"  # product teams: the generation API


def actor_user(actor: Actor) -> User | None:
    """The signed-in user behind `actor`, as a foreign key records who did something: None for
    the platform itself and for an anonymous visitor (who has no row)."""
    return None if actor is None or isinstance(actor, AnonymousUser) else actor


def user_roles(user: Actor) -> set[str]:
    if user is None or not user.is_authenticated or not user.is_active:
        return set()
    cached: set[str] | None = getattr(user, ROLES_CACHE, None)
    if cached is None:
        names = user.groups.filter(name__in=Role.values).values_list("name", flat=True)
        cached = set(names)
        setattr(user, ROLES_CACHE, cached)
    return cached


def has_role(user: Actor, *roles: str) -> TypeGuard[User]:
    """True only for an active signed-in user holding one of `roles`, so a caller may then use
    `user` as a `User` (its pk, its username)."""
    return bool(user_roles(user) & set(roles))


def require_role(actor: Actor, *roles: str, action: str) -> None:
    """Refuse unless `actor` has one of `roles`. `actor=None` is the platform's own operator
    at the command line (whoever can run `manage.py` already holds the database)."""
    from core.exceptions import PermissionDenied

    if actor is not None and not has_role(actor, *roles):
        name = getattr(actor, "username", str(actor))
        raise PermissionDenied(f"{name} may not {action} (needs {' or '.join(roles)})")
