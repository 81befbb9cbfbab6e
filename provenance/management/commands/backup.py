from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.management.base import JsonCommand
from provenance.services.backup import backup_create


class Command(JsonCommand):
    help = "Back up the database and the manifest of its blobs into a new folder (docs/operations.md)."

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, type=Path, help="a new or empty folder")
        parser.add_argument("--with-blobs", action="store_true", help="also copy the blobs (local file storage only)")

    def run(self, **options: Any) -> dict[str, Any]:
        return asdict(backup_create(output=options["output"], with_blobs=options["with_blobs"]))
