"""A trained model's report export (JSON): the artifact, its training run, its base model, the
snapshot it was trained on (the same report the snapshot's own export gives, TAINTED included),
the lineage document its signed container holds, and whether it may still be used.
Registered as the `json` model format in TrainingConfig.ready()."""

from __future__ import annotations

import json
from typing import IO, Any

from provenance.exports.formats import Progress
from provenance.exports.pack import SignedModel
from provenance.exports.records import snapshot_report
from provenance.exports.tabular import report_document
from provenance.models import Snapshot
from training.models import ModelArtifact
from training.selectors import model_get, model_refusal
from training.services.lineage import model_document

MODEL_REPORT_FORMAT = "cleanroom-model-report-v1"


def model_report(artifact: ModelArtifact) -> dict[str, Any]:
    run, base_model, snapshot = artifact.training_run, artifact.base_model, artifact.snapshot
    refusal = model_refusal(artifact)
    return {
        "format": MODEL_REPORT_FORMAT,
        "model": {
            "id": str(artifact.pk),
            "sha256": artifact.sha256,
            "size": artifact.size,
            "container_sha256": artifact.container_sha256,
            "ingredient_archive_sha256": artifact.ingredient_archive_sha256,
            "created_at": artifact.created_at.isoformat(),
            "usable": refusal is None,
            "refusal": {"code": refusal.code, "reason": refusal.message} if refusal else None,
        },
        "training_run": {
            "id": str(run.pk),
            "status": run.status,
            "requested_by": run.requested_by.get_username() if run.requested_by else "",
            "seed": run.seed,
            "steps": run.steps,
            "device": run.device,
            "config": run.config,
            "library_versions": run.library_versions,
            "started_at": run.started_at.isoformat() if run.started_at else "",
            "finished_at": run.finished_at.isoformat() if run.finished_at else "",
            "final_loss": run.loss_curve[-1] if run.loss_curve else None,
        },
        "base_model": {
            "id": str(base_model.pk),
            "name": base_model.name,
            "licence": base_model.licence,
            "sha256": base_model.sha256,
            "status": base_model.status,
            "declared_provenance": base_model.declared_provenance,
        },
        "snapshots": [report_document(snapshot_report(snapshot))],
        "lineage": model_document(
            model_id=artifact.pk,
            run=run,
            lora_sha256=artifact.sha256,
            lora_size=artifact.size,
            snapshot_container_sha256=snapshot.container_sha256,
        ),
    }


def model_json_write(model_id: str, handle: IO[bytes], progress: Progress) -> dict[str, Any]:
    artifact = model_get(model_id=model_id)
    document = model_report(artifact)
    handle.write(json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8") + b"\n")
    progress(1, 1)
    return {}


def snapshot_signed_models(snapshot: Snapshot) -> list[SignedModel]:
    """The signed containers of the models trained on `snapshot`, for its compliance pack."""
    return [
        SignedModel(model_id=str(model_id), container_sha256=sha256)
        for model_id, sha256 in ModelArtifact.objects.filter(snapshot=snapshot)
        .exclude(container_sha256="")
        .order_by("id")
        .values_list("id", "container_sha256")
    ]
