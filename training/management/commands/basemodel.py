from __future__ import annotations

from core.management.base import JsonCommand
from core.users import user_get
from training.api.serializers import BaseModelResultSerializer
from training.services import base_model_approve, base_model_register, base_model_reject, base_model_revoke


class Command(JsonCommand):
    help = "Base models: register a local save_pretrained directory, approve, reject, revoke; build the tiny test model."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        add = sub.add_parser("add", help="register a local diffusers pipeline directory (hashes every file)")
        add.add_argument("directory", metavar="DIR")
        add.add_argument("--name", required=True)
        add.add_argument("--licence", required=True, metavar="SPDX")
        add.add_argument("--provenance", default="", metavar="TEXT", help="where the weights come from, as declared")
        add.add_argument("--as", dest="as_user", metavar="USERNAME", help="the registrant (who then cannot approve it)")
        self.json_flag(add)
        approve = sub.add_parser("approve", help="approve (two distinct reviewers, neither the registrant)")
        approve.add_argument("base_model_id", metavar="ID")
        approve.add_argument("--as", dest="as_user", required=True, metavar="USERNAME")
        self.json_flag(approve)
        reject = sub.add_parser("reject", help="reject with a reason")
        reject.add_argument("base_model_id", metavar="ID")
        reject.add_argument("--as", dest="as_user", required=True, metavar="USERNAME")
        reject.add_argument("--reason", required=True)
        self.json_flag(reject)
        revoke = sub.add_parser("revoke", help="withdraw an approved base model (its models stop generating)")
        revoke.add_argument("base_model_id", metavar="ID")
        revoke.add_argument("--as", dest="as_user", required=True, metavar="USERNAME")
        revoke.add_argument("--reason", required=True)
        self.json_flag(revoke)
        tiny = sub.add_parser("build-tiny", help="write the tiny test pipeline (random weights) into DIR")
        tiny.add_argument("directory", metavar="DIR")
        self.json_flag(tiny)

    def run(self, *, action: str, **options):
        if action == "add":
            actor = user_get(username=options["as_user"]) if options.get("as_user") else None
            registered = base_model_register(
                directory=options["directory"],
                name=options["name"],
                licence=options["licence"],
                provenance=options["provenance"],
                actor=actor,
            )
            return BaseModelResultSerializer(registered).data
        if action == "approve":
            approved = base_model_approve(base_model_id=options["base_model_id"], reviewer=user_get(username=options["as_user"]))
            return BaseModelResultSerializer(approved).data
        if action == "reject":
            rejected = base_model_reject(
                base_model_id=options["base_model_id"], reviewer=user_get(username=options["as_user"]), reason=options["reason"]
            )
            return BaseModelResultSerializer(rejected).data
        if action == "revoke":
            revoked = base_model_revoke(
                base_model_id=options["base_model_id"], actor=user_get(username=options["as_user"]), reason=options["reason"]
            )
            return BaseModelResultSerializer(revoked).data
        from training.tiny import build_tiny_base_model

        return {"path": str(build_tiny_base_model(options["directory"]).resolve())}
