from __future__ import annotations

import argparse

from core.exceptions import ApplicationError
from core.management.base import JsonCommand
from provenance.services.datasets import dataset_create, parse_scopes


def _scopes(value: str) -> list[str]:
    try:
        return parse_scopes(value)
    except ApplicationError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


class Command(JsonCommand):
    help = "Datasets: `dataset create SLUG --scopes SCOPE[,SCOPE…]`."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        create = sub.add_parser("create", help="create a dataset and the consent scopes its members need")
        create.add_argument("slug")
        create.add_argument("--scopes", required=True, type=_scopes)
        create.add_argument("--name", default="")
        self.json_flag(create)

    def run(self, *, action: str, **options):
        dataset = dataset_create(slug=options["slug"], scopes=options["scopes"], name=options["name"])
        return {"dataset_id": str(dataset.pk), "slug": dataset.slug, "scopes": dataset.scopes}
