"""A trained model's signed lineage: the model container and its reusable ingredient archive.

The container is a signed ZIP holding `model.json` (model id, LoRA sha256, run, config, seed,
base model and snapshot digests). Its C2PA manifest has two `inputTo` ingredients:

- the snapshot's signed container (`c2pa.types.dataset`), whose manifest is nested, with the
  snapshot id, Merkle root and container sha256 in the ingredient's metadata;
- the base model (`c2pa.types.model`), a reference without bytes whose metadata carries its
  id, sha256 and every file's digest (the SDK hashes no non-image ingredient: we bind them).

The ingredient archive wraps the container as an `inputTo` ingredient (`c2pa.types.model`) that
the generation app embeds in every output, so an image carries the whole chain.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from core.exceptions import ApplicationError
from core.storage import blob_open, blob_put_bytes
from provenance.c2pa.lineage import (
    DATASET_TYPE,
    MODEL_ASSERTION,
    MODEL_TYPE,
    BaseModelIngredient,
    ModelAssertion,
    ModelIngredient,
    SnapshotIngredient,
)
from provenance.models import Snapshot
from training.models import TrainingRun

MODEL_DOCUMENT = "model.json"
MODEL_FORMAT = "cleanroom-model-v1"
CONTAINER_MIME_TYPE = "application/x-zip"


@dataclass(frozen=True)
class Lineage:
    container_sha256: str
    ingredient_archive_sha256: str
    snapshot_container_sha256: str
    document: dict


def canonical_json(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def model_document(
    *, model_id: uuid.UUID, run: TrainingRun, lora_sha256: str, lora_size: int, snapshot_container_sha256: str
) -> dict:
    """What `model.json` says: enough to re-derive and check every digest of the chain."""
    base_model, snapshot = run.base_model, run.snapshot
    return {
        "format": MODEL_FORMAT,
        "model_id": str(model_id),
        "lora": {"sha256": lora_sha256, "size": lora_size, "format": "safetensors", "adapter": "lora", "base": "unet"},
        "training_run": {
            "id": str(run.pk),
            "config": run.config,
            "seed": run.seed,
            "steps": run.steps,
            "device": run.device,
            "library_versions": run.library_versions,
            "final_loss": run.loss_curve[-1] if run.loss_curve else None,
        },
        "base_model": {
            "id": str(base_model.pk),
            "name": base_model.name,
            "licence": base_model.licence,
            "sha256": base_model.sha256,
            "files": base_model.files,
        },
        "snapshot": {
            "id": str(snapshot.pk),
            "merkle_root": snapshot.merkle_root,
            "leaf_format": snapshot.leaf_format,
            "asset_count": snapshot.asset_count,
            "container_sha256": snapshot_container_sha256,
        },
    }


def _snapshot_container(snapshot_id) -> tuple[bytes, Snapshot]:
    from provenance.services.snapshot_export import snapshot_container

    exported = snapshot_container(str(snapshot_id))
    with blob_open(exported.container_sha256) as handle:
        data = handle.read()
    if hashlib.sha256(data).hexdigest() != exported.container_sha256:
        raise ApplicationError(
            f"snapshot {snapshot_id}'s signed container differs from its recorded sha256",
            code="snapshot_container_changed",
            status=409,
        )
    return data, exported


def model_lineage_sign(*, model_id: uuid.UUID, run: TrainingRun, lora_sha256: str, lora_size: int) -> Lineage:
    """Sign the model container, build its ingredient archive, store both as blobs."""
    from provenance.c2pa.manifests import Ingredient, ingredient_archive, sign_container

    snapshot_zip, exported = _snapshot_container(run.snapshot_id)
    base_model, snapshot = run.base_model, run.snapshot
    document = model_document(
        model_id=model_id,
        run=run,
        lora_sha256=lora_sha256,
        lora_size=lora_size,
        snapshot_container_sha256=exported.container_sha256,
    )
    summary = ModelAssertion(
        model_id=str(model_id),
        lora_sha256=lora_sha256,
        training_run_id=str(run.pk),
        snapshot_id=str(snapshot.pk),
        merkle_root=snapshot.merkle_root,
        base_model_id=str(base_model.pk),
        base_model_sha256=base_model.sha256,
    )
    container = sign_container(
        files={MODEL_DOCUMENT: canonical_json(document)},
        title=f"Cleanroom model {model_id}",
        assertions=[{"label": MODEL_ASSERTION, "data": summary.to_json()}],
        ingredients=[
            Ingredient(
                title=f"Cleanroom snapshot {snapshot.pk}",
                mime_type=CONTAINER_MIME_TYPE,
                data=snapshot_zip,
                relationship="inputTo",
                data_types=[DATASET_TYPE],
                metadata=SnapshotIngredient(
                    snapshot_id=str(snapshot.pk), merkle_root=snapshot.merkle_root, container_sha256=exported.container_sha256
                ).to_json(),
            ),
            Ingredient(
                title=f"Base model {base_model.name}",
                mime_type="application/octet-stream",
                relationship="inputTo",
                data_types=[MODEL_TYPE],
                metadata=BaseModelIngredient(
                    base_model_id=str(base_model.pk),
                    name=base_model.name,
                    licence=base_model.licence,
                    sha256=base_model.sha256,
                    files=[{"path": f["path"], "sha256": f["sha256"]} for f in base_model.files],
                ).to_json(),
            ),
        ],
    )
    container_sha256 = blob_put_bytes(container)
    archive = ingredient_archive(
        Ingredient(
            title=f"Cleanroom model {model_id}",
            mime_type=CONTAINER_MIME_TYPE,
            data=container,
            relationship="inputTo",
            data_types=[MODEL_TYPE],
            metadata=ModelIngredient(
                model_id=str(model_id), lora_sha256=lora_sha256, container_sha256=container_sha256
            ).to_json(),
        )
    )
    return Lineage(
        container_sha256=container_sha256,
        ingredient_archive_sha256=blob_put_bytes(archive),
        snapshot_container_sha256=exported.container_sha256,
        document=document,
    )
