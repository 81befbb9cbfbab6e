from __future__ import annotations

from core.management.base import JsonCommand
from provenance.api.serializers import IngestResultSerializer
from provenance.services.ingest import ingest_paths


class Command(JsonCommand):
    help = (
        "Ingest image files, folders and ZIP archives into a dataset under a consent file. "
        "A same-name .txt beside an image is its caption."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--dataset", required=True, metavar="SLUG")
        parser.add_argument("--contributor", required=True, metavar="EMAIL")
        parser.add_argument("--consent", required=True, metavar="FILE", help="the consent JSON file")
        parser.add_argument("--licence", default="", metavar="SPDX")
        parser.add_argument("--source-url", default="", metavar="URL")

    def run(self, **options):
        batch = ingest_paths(
            paths=options["paths"],
            dataset_slug=options["dataset"],
            contributor_email=options["contributor"],
            consent_path=options["consent"],
            licence=options["licence"],
            source_url=options["source_url"],
            actor=None,
            progress=True,
        )
        return IngestResultSerializer(batch).data
