"""The command-line contract shared by every Cleanroom command.

`--json` prints exactly one JSON document on stdout; logs and progress go to stderr. Exit 0
when the command did its job, 1 when the request was refused or a check failed (the JSON says
why under `error`), 2 on a usage error (argparse prints usage on stderr) or a misconfiguration
(`code: misconfigured`: a setting or a backend's files are wrong; no request can succeed until an
operator fixes it, so it is not a refusal of this request). An unexpected error (a bug) still
prints its JSON (`code: internal_error`) and exits 1, with the traceback on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.exceptions import MISCONFIGURED, ApplicationError

MISCONFIGURED_EXIT = 2
INTERNAL_ERROR = "internal_error"
logger = logging.getLogger(__name__)


def misconfigured_payload(exc: ImproperlyConfigured) -> dict[str, Any]:
    return {"error": str(exc), "code": MISCONFIGURED}


class CheckFailed(Exception):
    """Raised by a command whose check ran and failed: its payload is still printed."""

    def __init__(self, payload: dict[str, Any], message: str, *, returncode: int = 1):
        super().__init__(message)
        self.payload = payload
        self.message = message
        self.returncode = returncode


class JsonCommand(BaseCommand):
    requires_system_checks: list = []
    requires_migrations_checks = False

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--json", action="store_true", default=False, help="print one JSON document on stdout")
        return parser

    def add_subcommands(self, parser: CommandParser) -> argparse._SubParsersAction:
        subparsers = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        return subparsers

    @staticmethod
    def json_flag(parser: argparse.ArgumentParser) -> None:
        """Accept --json after a sub-command too (argparse reads options per level)."""
        parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def handle(self, *args, **options) -> None:
        as_json = options.get("json", False)
        try:
            payload = self.run(**options)
        except ApplicationError as exc:
            self._emit({"error": exc.message, "code": exc.code, **exc.extra}, as_json)
            raise CommandError(exc.message, returncode=1) from None
        except CheckFailed as failed:
            self._emit({**failed.payload, "error": failed.message}, as_json)
            raise CommandError(failed.message, returncode=failed.returncode) from None
        except ImproperlyConfigured as exc:
            self._emit(misconfigured_payload(exc), as_json)
            raise CommandError(f"misconfigured: {exc}", returncode=MISCONFIGURED_EXIT) from None
        except CommandError:
            raise
        except Exception as exc:
            # A bug, not a refusal: the script still gets its one JSON document (and exit 1, as an
            # uncaught exception would give); the traceback goes to stderr for whoever fixes it.
            logger.exception("%s failed unexpectedly", type(self).__module__.rsplit(".", 1)[-1])
            message = f"internal error ({type(exc).__name__}); details on stderr"
            self._emit({"error": message, "code": INTERNAL_ERROR}, as_json)
            raise CommandError(message, returncode=1) from exc
        self._emit(payload, as_json)

    def run(self, **options) -> dict[str, Any]:
        raise NotImplementedError

    def _emit(self, payload: dict[str, Any], as_json: bool) -> None:
        if as_json:
            self.stdout.write(_printable(json.dumps(payload, default=str, ensure_ascii=False)))
            return
        if "error" in payload:
            return  # CommandError prints the message on stderr
        for key, value in payload.items():
            if isinstance(value, (list, dict)):
                self.stdout.write(f"{key}:")
                for item in value if isinstance(value, list) else [value]:
                    self.stdout.write(_printable(f"  {json.dumps(item, default=str, ensure_ascii=False)}"))
            else:
                self.stdout.write(_printable(f"{key}: {value}"))


def _printable(text: str) -> str:
    """A path from a non-UTF-8 file system must never crash the output: escape lone surrogates."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
