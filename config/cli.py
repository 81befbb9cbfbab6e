"""Entry points for `manage.py` and the `cleanroom` console script."""

from __future__ import annotations

import json
import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.management import ManagementUtility

from core.management.base import MISCONFIGURED_EXIT, misconfigured_payload


class _Utility(ManagementUtility):
    def fetch_command(self, subcommand: str):
        try:
            return super().fetch_command(subcommand)
        except SystemExit:
            # An unknown command is a usage error: exit 2, as the command-line contract says.
            raise SystemExit(2) from None


# The long-running processes, named in CLEANROOM_PROCESS before the settings load, so the
# settings can leave out what that process must not hold (the web process: the signing key).
PROCESS_COMMANDS = ("web", "worker", "beat")


def execute(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    if len(argv) > 1 and argv[1] in PROCESS_COMMANDS:
        os.environ.setdefault("CLEANROOM_PROCESS", argv[1])
    try:
        _Utility(argv).execute()
    except ImproperlyConfigured as exc:
        # Raised while the settings load (a malformed environment variable), before any
        # command runs: answered as the commands answer a misconfigured backend.
        if "--json" in argv:
            print(json.dumps(misconfigured_payload(exc), ensure_ascii=False))
        print(f"misconfigured: {exc}", file=sys.stderr)
        raise SystemExit(MISCONFIGURED_EXIT) from None


def main() -> None:
    execute(["cleanroom", *sys.argv[1:]])
