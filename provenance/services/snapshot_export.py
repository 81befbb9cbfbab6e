"""An approved snapshot exported as a C2PA-signed container, so a model can name it as an ingredient.

The container is a ZIP holding `snapshot.json` (the frozen list, its Merkle root and who
approved it), signed as application/x-zip with an `org.cleanroom.snapshot` assertion. It is
made once per snapshot and kept as a content-addressed blob; its sha256 is recorded on the
snapshot, so every model trained on the snapshot names the same bytes.
"""

from __future__ import annotations

import hashlib
import json

from django.db import transaction

from core.audit import audit_append
from core.exceptions import ApplicationError
from core.models import EventType
from core.roles import Actor
from core.storage import blob_exists, blob_put_bytes
from provenance.c2pa.lineage import SNAPSHOT_ASSERTION, SnapshotAssertion
from provenance.c2pa.manifests import sign_container
from provenance.merkle import leaf_hash, snapshot_leaf
from provenance.models import ReviewDecision, Snapshot, SnapshotMember
from provenance.selectors import snapshot_get, snapshot_refusal

SNAPSHOT_DOCUMENT = "snapshot.json"
TREE = "RFC 9162 §2.1: leaf hash SHA-256(0x00 || leaf), node hash SHA-256(0x01 || left || right)"


def snapshot_container(snapshot_id, *, actor: Actor = None) -> Snapshot:
    """Export an approved, untainted snapshot as a signed ZIP blob, once; later calls return it.
    Returns the snapshot, whose `container_sha256` names the blob.

    Refuses a snapshot that may not be used (`snapshot_refusal`), even one exported before:
    nothing may use it any more. Permission checks belong to the caller (training, an operator).
    """
    snapshot = snapshot_get(snapshot_id=str(snapshot_id))
    with transaction.atomic():
        # The row lock makes concurrent callers wait for one export instead of signing twice.
        snapshot = Snapshot.objects.select_for_update().select_related("dataset", "created_by").get(pk=snapshot.pk)
        refusal = snapshot_refusal(snapshot)
        if refusal is not None:
            raise refusal
        if snapshot.container_sha256:
            if not blob_exists(snapshot.container_sha256):
                raise ApplicationError(
                    f"snapshot {snapshot.pk}'s container {snapshot.container_sha256} is missing from the blob store",
                    code="snapshot_container_missing",
                    status=409,
                )
            return snapshot
        document = snapshot_document(snapshot)
        document_bytes = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")
        container = sign_container(
            files={SNAPSHOT_DOCUMENT: document_bytes},
            title=f"Cleanroom snapshot {snapshot.pk}",
            assertions=[
                {
                    "label": SNAPSHOT_ASSERTION,
                    "data": SnapshotAssertion(
                        snapshot_id=str(snapshot.pk),
                        dataset=snapshot.dataset.slug,
                        merkle_root=snapshot.merkle_root,
                        leaf_format=snapshot.leaf_format,
                        asset_count=snapshot.asset_count,
                        document_sha256=hashlib.sha256(document_bytes).hexdigest(),
                    ).to_json(),
                }
            ],
        )
        snapshot.container_sha256 = blob_put_bytes(container)
        snapshot.save(update_fields=["container_sha256", "updated_at"])
        audit_append(
            actor=actor,
            event_type=EventType.SNAPSHOT_EXPORTED,
            subject=snapshot,
            details={
                "container_sha256": snapshot.container_sha256,
                "merkle_root": snapshot.merkle_root,
                "document_sha256": hashlib.sha256(document_bytes).hexdigest(),
            },
        )
    return snapshot


def snapshot_document(snapshot: Snapshot) -> dict:
    """What the container holds: enough to recompute the Merkle root without the database."""
    members = (
        SnapshotMember.objects.filter(snapshot=snapshot)
        .order_by("index")
        .values_list("index", "asset_id", "asset_sha256", "consent_id", "consent_digest")
    )
    approvals = (
        ReviewDecision.objects.filter(snapshot=snapshot, subject_type="snapshot", decision="approve")
        .order_by("created_at", "id")
        .values_list("reviewer__username", "created_at")
    )
    return {
        "id": str(snapshot.pk),
        "dataset": snapshot.dataset.slug,
        "scopes": snapshot.scopes,
        "merkle_root": snapshot.merkle_root,
        "tree": TREE,
        "leaf_format": snapshot.leaf_format,
        "asset_count": snapshot.asset_count,
        "created_by": snapshot.created_by.get_username(),
        "created_at": snapshot.created_at.isoformat(),
        "approvals": [{"reviewer": name, "at": at.isoformat()} for name, at in approvals],
        "members": [
            {
                "index": index,
                "asset_id": str(asset_id),
                "asset_sha256": sha256,
                "consent_id": str(consent_id),
                "consent_digest": digest,
                "leaf_hash": leaf_hash(
                    snapshot_leaf(asset_sha256=sha256, consent_id=str(consent_id), consent_digest=digest)
                ).hex(),
            }
            for index, asset_id, sha256, consent_id, digest in members
        ],
    }
