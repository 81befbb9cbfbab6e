from __future__ import annotations

from typing import Any

from rest_framework.authtoken.models import Token

from core.management.base import JsonCommand
from core.roles import Role
from core.users import user_add, user_get, user_role_names


class Command(JsonCommand):
    help = "Manage users: `user add USERNAME --role ROLE [--email E]`, `user token USERNAME`."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        add = sub.add_parser("add", help="create a user (or give an existing one another role)")
        add.add_argument("username")
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument("--email", default="")
        self.json_flag(add)
        token = sub.add_parser("token", help="print the user's API token, creating it if needed")
        token.add_argument("username")
        self.json_flag(token)

    def run(self, **options: Any) -> dict[str, Any]:
        if options["action"] == "add":
            user = user_add(username=options["username"], role=options["role"], email=options["email"])
            return {"username": user.username, "roles": user_role_names(user)}
        user = user_get(username=options["username"])
        token, _ = Token.objects.get_or_create(user=user)
        return {"username": user.username, "token": token.key}
