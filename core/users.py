"""Users and their roles (services)."""

from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth import models as auth
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

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


@sensitive_variables("password")
@transaction.atomic
def user_password_set(*, username: str, password: str, actor: Actor = None) -> auth.User:
    """Give the active user `username` a new password, once Django's password validators
    (AUTH_PASSWORD_VALIDATORS) accept it. Their other web sessions end (Django ties a session to
    the password it was opened with); their API tokens stay. Audited, without the password."""
    user = user_get(username=username)
    if not password:
        raise ApplicationError("no password given", code="no_password")
    try:
        password_validation.validate_password(password, user)
    except ValidationError as refused:
        problems = [str(message) for message in refused.messages]
        raise ApplicationError(" ".join(problems), code="invalid_password", extra={"problems": problems}) from None
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_append(actor=actor, event_type=EventType.USER_PASSWORD_SET, subject=("user", user.username), details={})
    return user


def user_role_names(user: auth.User) -> list[str]:
    return sorted(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
