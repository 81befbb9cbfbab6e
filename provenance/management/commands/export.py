from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import CommandError

from core.management.base import JsonCommand
from provenance.exports.formats import MODEL, SNAPSHOT, export_format_names
from provenance.exports.service import export_write


class Command(JsonCommand):
    help = (
        "Export a snapshot's report (csv, json, pdf, croissant, pack) or a model's (json, pdf, eu-summary) to FILE, atomically."
    )

    def add_arguments(self, parser):
        parser.add_argument("snapshot_id", nargs="?", metavar="SNAPSHOT_ID")
        parser.add_argument("--model", dest="model_id", metavar="MODEL_ID", help="export a trained model instead")
        parser.add_argument("--format", required=True, choices=export_format_names())
        parser.add_argument("--output", required=True, metavar="FILE")
        parser.add_argument("--force", action="store_true", help="replace FILE if it exists")

    def run(self, *, snapshot_id: str | None, model_id: str | None, **options):
        if bool(snapshot_id) == bool(model_id):
            raise CommandError("give either SNAPSHOT_ID or --model MODEL_ID", returncode=2)
        subject, subject_id = (MODEL, model_id) if model_id else (SNAPSHOT, snapshot_id)
        result = export_write(
            subject=subject,
            subject_id=str(subject_id),
            format_name=options["format"],
            output=Path(options["output"]),
            force=options["force"],
            progress=self._progress,
        )
        payload: dict = {"path": result.path, "format": result.format, "sha256": result.sha256}
        if result.warnings:
            payload["warnings"] = result.warnings
        return payload

    @staticmethod
    def _progress(done: int, total: int | None) -> None:
        print(f"exported {done} of {total if total is not None else '?'} records", file=sys.stderr)
