from __future__ import annotations

import argparse

from core.exceptions import ApplicationError
from core.management.base import JsonCommand
from provenance.api.serializers import DatasetSerializer, EnrolmentChangeSerializer
from provenance.selectors import dataset_get
from provenance.services.contributors import contributor_get
from provenance.services.datasets import dataset_create, dataset_enrol, dataset_unenrol, parse_scopes


def _scopes(value: str) -> list[str]:
    try:
        return parse_scopes(value)
    except ApplicationError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


class Command(JsonCommand):
    help = (
        "Datasets: `dataset create SLUG --scopes SCOPE[,SCOPE…]`; `dataset enrol SLUG --contributor EMAIL` and "
        "`dataset unenrol SLUG --contributor EMAIL` (which contributors may see the dataset and ingest into it)."
    )

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        create = sub.add_parser("create", help="create a dataset and the consent scopes its members need")
        create.add_argument("slug")
        create.add_argument("--scopes", required=True, type=_scopes)
        create.add_argument("--name", default="")
        self.json_flag(create)
        for action, what in (("enrol", "let a contributor ingest into"), ("unenrol", "stop a contributor ingesting into")):
            enrolment = sub.add_parser(action, help=f"{what} the dataset (recorded in the audit log)")
            enrolment.add_argument("slug")
            enrolment.add_argument("--contributor", required=True, metavar="EMAIL")
            enrolment.add_argument("--reason", default="")
            self.json_flag(enrolment)

    def run(self, *, action: str, **options):
        if action == "create":
            dataset = dataset_create(slug=options["slug"], scopes=options["scopes"], name=options["name"])
            return DatasetSerializer(dataset).data
        change = (dataset_enrol if action == "enrol" else dataset_unenrol)(
            dataset=dataset_get(slug=options["slug"]),
            contributor=contributor_get(email=options["contributor"]),
            reason=options["reason"],
        )
        return EnrolmentChangeSerializer(change).data
