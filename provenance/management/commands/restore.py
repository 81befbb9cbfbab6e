from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.management.base import CheckFailed, JsonCommand
from provenance.services.backup import backup_restore, backup_verify


class Command(JsonCommand):
    help = "Restore a backup folder into an EMPTY database, then check blobs, audit chain and snapshot roots."

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path, help="a folder written by `backup`")
        parser.add_argument("--check", action="store_true", help="only run the checks against the current platform")

    def run(self, **options: Any) -> dict[str, Any]:
        action = backup_verify if options["check"] else backup_restore
        result = action(source=options["source"])
        answer = asdict(result)
        if result.problems:
            raise CheckFailed(answer, "the checks failed: " + "; ".join(result.problems))
        return answer
