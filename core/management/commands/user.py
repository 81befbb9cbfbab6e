from __future__ import annotations

import getpass
import sys
from typing import Any, TextIO

from core.api.serializers import IssuedTokenSerializer
from core.management.base import JsonCommand
from core.roles import Role
from core.tokens import token_issue, token_revoke
from core.users import user_add, user_get, user_password_set, user_role_names


class Command(JsonCommand):
    help = (
        "Manage users: `user add USERNAME --role ROLE [--email E]`, `user token USERNAME`, "
        "`user revoke-tokens USERNAME [--token-id ID]`, `user password USERNAME` (the new password is the first "
        "line of standard input)."
    )
    # call_command(..., stdin=StringIO(...)) in tests; the process's standard input otherwise.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        add = sub.add_parser("add", help="create a user (or give an existing one another role)")
        add.add_argument("username")
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument("--email", default="")
        self.json_flag(add)
        token = sub.add_parser("token", help="issue a new API token for the user; its key is printed only this once")
        token.add_argument("username")
        self.json_flag(token)
        revoke = sub.add_parser("revoke-tokens", help="revoke the user's API tokens: every live one, or one (--token-id)")
        revoke.add_argument("username")
        revoke.add_argument("--token-id", type=int, default=None)
        self.json_flag(revoke)
        password = sub.add_parser(
            "password", help="set the user's password: the first line of standard input (Django's validators apply)"
        )
        password.add_argument("username")
        self.json_flag(password)

    def run(self, **options: Any) -> dict[str, Any]:
        if options["action"] == "add":
            user = user_add(username=options["username"], role=options["role"], email=options["email"])
            return {"username": user.username, "roles": user_role_names(user)}
        if options["action"] == "password":
            new_password = _first_line(options.get("stdin") or sys.stdin)
            user = user_password_set(username=options["username"], password=new_password)
            return {"username": user.username}
        user = user_get(username=options["username"])
        if options["action"] == "revoke-tokens":
            return {"username": user.username, "revoked": token_revoke(user=user, actor=None, token_id=options["token_id"])}
        return dict(IssuedTokenSerializer(token_issue(user=user, actor=None)).data)


def _first_line(stream: TextIO) -> str:
    """The password as typed: a terminal prompts without echo; a pipe gives its first line,
    with only the line break taken off (spaces may be part of a password)."""
    if stream.isatty():
        return getpass.getpass("New password: ")
    return stream.readline().rstrip("\r\n")
