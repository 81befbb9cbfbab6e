from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from core.users import user_add


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


def user_with_role(username: str, role: str | None):
    user = UserFactory(username=username)
    if role:
        user_add(username=username, role=role)
    return user
