"""Entry points for `manage.py` and the `cleanroom` console script."""

from __future__ import annotations

import os
import sys

from django.core.management import ManagementUtility


class _Utility(ManagementUtility):
    def fetch_command(self, subcommand: str):
        try:
            return super().fetch_command(subcommand)
        except SystemExit:
            # An unknown command is a usage error: exit 2, as the command-line contract says.
            raise SystemExit(2) from None


def execute(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    _Utility(argv).execute()


def main() -> None:
    execute(["cleanroom", *sys.argv[1:]])
