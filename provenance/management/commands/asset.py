from __future__ import annotations

from core.management.base import JsonCommand
from core.users import user_get
from provenance.api.serializers import AssetSerializer
from provenance.models import Decision
from provenance.selectors import asset_get
from provenance.services.assets import asset_review


class Command(JsonCommand):
    help = "Assets: `asset show ID`, `asset review ID --as REVIEWER --decision approve|reject --reason TEXT`."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        show = sub.add_parser("show", help="an asset's status, hashes and extracted metadata")
        show.add_argument("asset_id", metavar="ID")
        self.json_flag(show)
        review = sub.add_parser("review", help="a reviewer approves or rejects an asset, with a reason")
        review.add_argument("asset_id", metavar="ID")
        review.add_argument("--as", dest="as_user", required=True, metavar="USERNAME")
        review.add_argument("--decision", required=True, choices=Decision.values)
        review.add_argument("--reason", required=True)
        self.json_flag(review)

    def run(self, *, action: str, **options):
        if action == "review":
            asset = asset_review(
                asset_id=options["asset_id"],
                reviewer=user_get(username=options["as_user"]),
                decision=options["decision"],
                reason=options["reason"],
            )
        else:
            asset = asset_get(asset_id=options["asset_id"])
        return AssetSerializer(asset).data
