from __future__ import annotations

from auditing.api.serializers import ProtectedAdditionSerializer
from auditing.services.protected import protected_add
from core.management.base import JsonCommand


class Command(JsonCommand):
    help = "Protected works: `protected add PATH... --owner NAME [--reference TEXT]`."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        add = sub.add_parser("add", help="register image files, folders or ZIP archives as protected works")
        add.add_argument("paths", nargs="+", metavar="PATH")
        add.add_argument("--owner", required=True, metavar="NAME")
        add.add_argument("--reference", default="", metavar="TEXT", help="a citation or URL of the work")
        self.json_flag(add)

    def run(self, *, action: str, **options):
        added = protected_add(paths=options["paths"], owner=options["owner"], reference=options["reference"], actor=None)
        return ProtectedAdditionSerializer(added).data
