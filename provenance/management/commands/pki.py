from __future__ import annotations

from core.management.base import JsonCommand
from provenance.api.serializers import SigningIdentitySerializer
from provenance.services.pki import pki_init, pki_show


class Command(JsonCommand):
    help = "The organisation's C2PA signing identity: init (root CA + signing certificate), show."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        init = sub.add_parser("init", help="create the root CA, the signing certificate and the trust anchors bundle")
        init.add_argument("--force", action="store_true", help="replace an existing identity (old outputs stop reading Trusted)")
        init.add_argument(
            "--also-trust",
            action="append",
            default=[],
            metavar="PEM",
            help="a further trust anchor for the bundle, e.g. your time-stamp authority's root (repeatable)",
        )
        self.json_flag(init)
        show = sub.add_parser("show", help="fingerprints, paths and validity of the installed identity")
        self.json_flag(show)

    def run(self, *, action: str, **options):
        if action == "init":
            return SigningIdentitySerializer(pki_init(force=options["force"], also_trust=options["also_trust"])).data
        return SigningIdentitySerializer(pki_show()).data
