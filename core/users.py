"""Users and their roles (services)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth import models as auth
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from core.audit import audit_append
from core.exceptions import ApplicationError, NotFound
from core.models import EventType
from core.roles import ROLES_CACHE, Actor, Role

User = get_user_model()


def user_get(*, username: str) -> auth.User:
    try:
        return User.objects.get(username=username, is_active=True)
    except User.DoesNotExist:
        raise NotFound(f"no active user named {username!r}", code="unknown_user") from None


@transaction.atomic
def user_add(*, username: str, role: str, email: str = "", actor: Actor = None) -> auth.User:
    """Create the user if needed and give them `role`. Re-running is harmless."""
    if role not in Role.values:
        raise ApplicationError(f"unknown role {role!r}; one of {', '.join(Role.values)}", code="unknown_role")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ApplicationError(f"{email!r} is not an email address", code="invalid_email") from None
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        audit_append(actor=actor, event_type=EventType.USER_ADDED, subject=("user", username), details={"email": email})
    group, _ = Group.objects.get_or_create(name=role)
    if not user.groups.filter(pk=group.pk).exists():
        user.groups.add(group)
        audit_append(actor=actor, event_type=EventType.USER_ROLE_ADDED, subject=("user", username), details={"role": role})
    setattr(user, ROLES_CACHE, None)
    return user


def user_role_names(user: auth.User) -> list[str]:
    return sorted(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
