from __future__ import annotations

from pathlib import Path

from core.exceptions import ApplicationError
from core.management.base import CheckFailed, JsonCommand
from core.storage import sha256_of_file
from core.users import user_get
from provenance.api.serializers import (
    SnapshotCreateResultSerializer,
    SnapshotProofSerializer,
    SnapshotReviewResultSerializer,
)
from provenance.services.snapshots import snapshot_approve, snapshot_create, snapshot_prove, snapshot_reject


class Command(JsonCommand):
    help = "Snapshots: create, approve, reject, prove."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        create = sub.add_parser("create", help="freeze a dataset's eligible assets and submit for review")
        create.add_argument("--dataset", required=True, metavar="SLUG")
        create.add_argument("--as", dest="as_user", required=True, metavar="USERNAME")
        self.json_flag(create)
        approve = sub.add_parser("approve", help="approve (two distinct reviewers, neither the builder)")
        approve.add_argument("snapshot_id", metavar="ID")
        approve.add_argument("--as", dest="as_user", required=True, metavar="USERNAME")
        self.json_flag(approve)
        reject = sub.add_parser("reject", help="reject with a reason")
        reject.add_argument("snapshot_id", metavar="ID")
        reject.add_argument("--as", dest="as_user", required=True, metavar="USERNAME")
        reject.add_argument("--reason", required=True)
        self.json_flag(reject)
        prove = sub.add_parser("prove", help="Merkle inclusion proof that FILE's bytes are in the snapshot")
        prove.add_argument("snapshot_id", metavar="ID")
        prove.add_argument("file", metavar="FILE")
        self.json_flag(prove)

    def run(self, *, action: str, **options):
        if action == "create":
            created = snapshot_create(dataset_slug=options["dataset"], actor=user_get(username=options["as_user"]))
            return SnapshotCreateResultSerializer(created).data
        if action == "approve":
            approved = snapshot_approve(snapshot_id=options["snapshot_id"], reviewer=user_get(username=options["as_user"]))
            return SnapshotReviewResultSerializer(approved).data
        if action == "reject":
            rejected = snapshot_reject(
                snapshot_id=options["snapshot_id"], reviewer=user_get(username=options["as_user"]), reason=options["reason"]
            )
            return SnapshotReviewResultSerializer(rejected).data
        return self._prove(options["snapshot_id"], Path(options["file"]))

    def _prove(self, snapshot_id: str, file: Path) -> dict:
        try:
            with file.open("rb") as handle:
                sha256, _ = sha256_of_file(handle)
        except OSError as exc:
            raise ApplicationError(f"cannot read {str(file)!r}: {exc.strerror}", code="unreadable_file") from None
        proof = snapshot_prove(snapshot_id=snapshot_id, sha256=sha256)
        result = SnapshotProofSerializer(proof).data
        if not proof.included:
            raise CheckFailed(result, f"{file} (sha256 {sha256}) is not included in snapshot {snapshot_id}")
        return result
