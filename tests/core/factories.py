"""Users for tests: a factory-boy `DjangoModelFactory` (a user row is not a governance write),
and roles granted through `core.users.user_add`, the service the `user add` command calls."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from core.users import user_add

PASSWORD = "correct horse battery staple"  # every UserFactory user's password


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password(PASSWORD)


def user_with_role(username: str, role: str | None):
    user = UserFactory(username=username)
    if role:
        user_add(username=username, role=role)
    return user
