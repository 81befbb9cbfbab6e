"""`demo load`: see demo.load."""

from __future__ import annotations

from core.management.base import JsonCommand
from demo.load import DEFAULT_SITE_URL, demo_load
from provenance.models import AssetStatus


class Command(JsonCommand):
    help = (
        "Demo data: `demo load` creates demo users, a contributor, a consented dataset and approved images, "
        "a snapshot, a model trained on it and one signed output."
    )

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        load = sub.add_parser("load", help="load the demo (idempotent)")
        load.add_argument("--url", default=DEFAULT_SITE_URL, help="where the platform is served (saved with the passwords)")
        self.json_flag(load)

    def run(self, *, action: str, **options):
        return demo_load(stderr=self.stderr, site_url=options["url"])

    def _emit(self, payload, as_json: bool) -> None:
        if as_json or "error" in payload:
            super()._emit(payload, as_json)
            return
        approved = sum(1 for asset in payload["assets"] if asset["status"] == AssetStatus.APPROVED)
        self.stdout.write(
            f"demo: dataset {payload['dataset_slug']} holds {len(payload['assets'])} demo images, {approved} approved "
            f"({payload['ingested']} ingested and {payload['approved_now']} approved just now)"
        )
        for refused in payload["refused"]:
            self.stdout.write(f"demo: refused {refused['path']}: {refused['reason']} ({refused['detail']})")
        if payload["snapshot"] is not None:
            snapshot = payload["snapshot"]
            self.stdout.write(
                f"demo: snapshot {snapshot['snapshot_id']} ({snapshot['status']}, {snapshot['asset_count']} images, "
                f"approved by {', '.join(snapshot['approvals']) or 'nobody yet'})"
            )
        if payload["model"] is not None:
            self.stdout.write(f"demo: model {payload['model']['model_id']} trained on it")
        if payload["files"]["output"] is not None:
            self.stdout.write(
                f"demo: its output {payload['files']['output']} and a copy without the manifest "
                f"{payload['files']['output_stripped']}: try them on /verify/"
            )
        users = ", ".join(user["username"] for user in payload["users"])
        self.stdout.write(f"demo: users {users}; passwords in {payload['credentials_file']}")
