from __future__ import annotations

from core.management.base import JsonCommand
from core.users import user_get
from provenance.api.serializers import ConsentRevokeResultSerializer
from provenance.services.consent import consent_revoke


class Command(JsonCommand):
    help = "Consent: `consent revoke CONSENT_ID --as USERNAME --reason TEXT`."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        revoke = sub.add_parser("revoke", help="revoke a consent: withdraw its assets, taint its snapshots")
        revoke.add_argument("consent_id")
        revoke.add_argument("--as", dest="as_user", required=True, metavar="USERNAME")
        revoke.add_argument("--reason", required=True)
        self.json_flag(revoke)

    def run(self, *, action: str, **options):
        actor = user_get(username=options["as_user"])
        revocation = consent_revoke(consent_id=options["consent_id"], actor=actor, reason=options["reason"])
        return ConsentRevokeResultSerializer(revocation).data
