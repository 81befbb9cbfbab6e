"""A trained model's PDF report, for a lawyer: the model and whether it may still be used, its
training run, its base model, the snapshot it was trained on (Merkle root, approvals, TAINTED
with the lapse that caused it), the lineage that links them by digest, and a summary of the
snapshot's records (counts and charts; the snapshot's own PDF has the per-record table).
The same facts as the model's JSON export (`model_report`), rendered by provenance's PDF
renderer. Registered as the `pdf` model format in TrainingConfig.ready()."""

from __future__ import annotations

import json
from typing import IO, Any

from provenance.exports.formats import Progress
from provenance.exports.pdf import pdf_render, snapshot_digest, summary_charts
from provenance.exports.records import snapshot_report
from training.exports import model_report
from training.selectors import model_get


def model_pdf_write(model_id: str, handle: IO[bytes], progress: Progress) -> dict[str, Any]:
    artifact = model_get(model_id=model_id)
    document = model_report(artifact)
    snapshot = artifact.snapshot
    report = snapshot_report(snapshot)
    digest = snapshot_digest(snapshot, progress=progress, table_rows=0, thumbnails=0)
    run = document["training_run"]
    context = {
        "model": document["model"],
        "run": run,
        "run_config": json.dumps(run["config"], sort_keys=True, indent=1, ensure_ascii=False),
        "library_versions": sorted(run["library_versions"].items()),
        "base_model": document["base_model"],
        "lineage": document["lineage"],
        "report": report,
        "digest": digest,
        "charts": summary_charts(digest),
        "approvers": list(dict.fromkeys(approval.reviewer for approval in report.approvals)),
    }
    handle.write(
        pdf_render(
            "exports/model_report.html",
            context,
            created=document["model"]["created_at"],
            modified=max(document["model"]["created_at"], report.status_changed_at),
            identifier=f"model:{artifact.pk}:{artifact.sha256}:{report.status}",
        )
    )
    progress(1, 1)
    return {}
