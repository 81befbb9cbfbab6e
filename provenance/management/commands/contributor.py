from __future__ import annotations

from core.management.base import JsonCommand
from provenance.api.serializers import ContributorSerializer
from provenance.services.contributors import contributor_add


class Command(JsonCommand):
    help = "Contributors: `contributor add EMAIL --name NAME [--user USERNAME]`."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        add = sub.add_parser("add", help="register a contributor")
        add.add_argument("email")
        add.add_argument("--name", required=True)
        add.add_argument("--user", default=None, help="link the contributor to this portal user")
        self.json_flag(add)

    def run(self, *, action: str, **options):
        contributor = contributor_add(email=options["email"], name=options["name"], username=options["user"])
        return ContributorSerializer(contributor).data
