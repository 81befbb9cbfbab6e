"""The rules a training run must pass, and whether a trained model may still generate."""

from __future__ import annotations

from core.exceptions import ApplicationError
from core.storage import blob_open, sha256_of_file
from provenance.models import Snapshot, SnapshotMember
from provenance.selectors import snapshot_refusal
from training.models import BaseModel, ModelArtifact
from training.selectors import base_model_refusal, model_refusal
from training.services.base_models import base_model_check_files

MAX_REPORTED_BLOBS = 20
# The rules a run must pass (check_trainable); failing one is a refusal, recorded as such.
REFUSAL_CODES = {
    "snapshot_tainted",
    "snapshot_not_approved",
    "base_model_not_approved",
    "consent_lapsed",
    "base_model_changed",
    "blob_missing",
    "blob_mismatch",
}


def model_usable(artifact: ModelArtifact) -> None:
    """Refuse (ApplicationError) when a model may not generate (`model_refusal`)."""
    refusal = model_refusal(artifact)
    if refusal is not None:
        raise refusal


def snapshot_blob_problems(snapshot: Snapshot) -> list[dict]:
    """Members whose blob is missing or whose bytes no longer hash to the frozen sha256."""
    problems = []
    for sha256 in SnapshotMember.objects.filter(snapshot=snapshot).order_by("index").values_list("asset_sha256", flat=True):
        try:
            with blob_open(sha256) as handle:
                digest, _ = sha256_of_file(handle)
        except OSError:
            problems.append({"sha256": sha256, "problem": "missing"})
            continue
        if digest != sha256:
            problems.append({"sha256": sha256, "problem": "mismatch", "found": digest})
    return problems


def _check_blobs(snapshot: Snapshot) -> None:
    problems = snapshot_blob_problems(snapshot)
    if not problems:
        return
    mismatched = [p for p in problems if p["problem"] == "mismatch"]
    code = "blob_mismatch" if mismatched else "blob_missing"
    raise ApplicationError(
        f"{len(problems)} image(s) of snapshot {snapshot.pk} differ from its frozen list "
        f"({len(mismatched)} changed, {len(problems) - len(mismatched)} missing), e.g. {problems[0]['sha256']}",
        code=code,
        status=409,
        extra={"blobs": problems[:MAX_REPORTED_BLOBS]},
    )


def check_trainable(snapshot: Snapshot, base_model: BaseModel) -> None:
    """Every rule a run must pass, cheapest first; the last two read every byte involved."""
    refusal = snapshot_refusal(snapshot) or base_model_refusal(base_model)
    if refusal is not None:
        raise refusal
    base_model_check_files(base_model)
    _check_blobs(snapshot)
