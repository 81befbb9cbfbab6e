"""The rules a training run must pass, and whether a trained model may still generate."""

from __future__ import annotations

from core.exceptions import ApplicationError
from core.storage import blob_open, sha256_of_file
from provenance.models import Snapshot, SnapshotMember, SnapshotStatus
from provenance.selectors import consent_gap, consent_states
from training.models import BaseModel, BaseModelStatus, ModelArtifact
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
    """Refuse (ApplicationError) when a model may not generate: its snapshot was tainted
    (`snapshot_tainted`) or is not approved (`snapshot_not_approved`), or its base model is not
    approved (`base_model_not_approved`). Reads the current rows, never cached ones."""
    snapshot = Snapshot.objects.get(pk=artifact.snapshot_id)
    base_model = BaseModel.objects.get(pk=artifact.base_model_id)
    _check_snapshot_status(snapshot, what=f"model {artifact.pk}'s snapshot")
    _check_base_model_status(base_model, what=f"model {artifact.pk}'s base model")


def _check_snapshot_status(snapshot: Snapshot, *, what: str = "snapshot") -> None:
    if snapshot.status == SnapshotStatus.TAINTED:
        raise ApplicationError(
            f"{what} {snapshot.pk} is tainted ({snapshot.status_reason or 'a consent was revoked'})",
            code="snapshot_tainted",
            status=409,
        )
    if snapshot.status != SnapshotStatus.APPROVED:
        raise ApplicationError(
            f"{what} {snapshot.pk} is {snapshot.status}, not approved", code="snapshot_not_approved", status=409
        )


def _check_base_model_status(base_model: BaseModel, *, what: str = "base model") -> None:
    if base_model.status != BaseModelStatus.APPROVED:
        raise ApplicationError(
            f"{what} {base_model.name} ({base_model.pk}) is {base_model.status}, not approved",
            code="base_model_not_approved",
            status=409,
        )


def _check_consents(snapshot: Snapshot) -> None:
    """A consent that expired since approval no longer covers training on the snapshot."""
    consent_ids = SnapshotMember.objects.filter(snapshot=snapshot).values_list("consent_id", flat=True).distinct()
    lapsed = sorted(str(pk) for pk, state in consent_states(list(consent_ids)).items() if consent_gap(state, snapshot.scopes))
    if lapsed:
        raise ApplicationError(
            f"snapshot {snapshot.pk} holds consent(s) that no longer cover it: {', '.join(lapsed[:10])}",
            code="consent_lapsed",
            status=409,
        )


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
    _check_snapshot_status(snapshot)
    _check_base_model_status(base_model)
    _check_consents(snapshot)
    base_model_check_files(base_model)
    _check_blobs(snapshot)
