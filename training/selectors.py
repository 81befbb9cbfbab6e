"""Reads: lookups by public id, approvals, and lineage summaries."""

from __future__ import annotations

import uuid

from core.exceptions import ApplicationError, NotFound
from provenance.selectors import snapshot_refusal, snapshots_lapsed_consents
from training.models import BaseModel, BaseModelReview, BaseModelStatus, ModelArtifact, TrainingRun


def _uuid(value, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"no {what.replace('_', ' ')} with id {value!r}", code=f"unknown_{what}") from None


def base_model_get(*, base_model_id) -> BaseModel:
    try:
        return BaseModel.objects.get(pk=_uuid(base_model_id, "base_model"))
    except BaseModel.DoesNotExist:
        raise NotFound(f"no base model with id {base_model_id!r}", code="unknown_base_model") from None


def base_model_approvals(base_model: BaseModel) -> list[str]:
    """Usernames of the reviewers who approved, in the order they did."""
    names = (
        BaseModelReview.objects.filter(base_model=base_model, decision="approve")
        .order_by("created_at", "id")
        .values_list("reviewer__username", flat=True)
    )
    return list(dict.fromkeys(names))


def base_models_approvals(base_models: list[BaseModel]) -> dict:
    """`base_model_approvals` for many base models (by pk) in one query: a list page's column."""
    approvals: dict = {base_model.pk: [] for base_model in base_models}
    rows = (
        BaseModelReview.objects.filter(base_model__in=[b.pk for b in base_models], decision="approve")
        .order_by("created_at", "id")
        .values_list("base_model_id", "reviewer__username")
    )
    for base_model_id, username in rows:
        if username not in approvals[base_model_id]:
            approvals[base_model_id].append(username)
    return approvals


def training_run_get(*, run_id) -> TrainingRun:
    try:
        return TrainingRun.objects.select_related("snapshot", "base_model").get(pk=_uuid(run_id, "training_run"))
    except TrainingRun.DoesNotExist:
        raise NotFound(f"no training run with id {run_id!r}", code="unknown_training_run") from None


def model_get(*, model_id) -> ModelArtifact:
    """A model artifact by id, with its run, snapshot and base model."""
    try:
        return ModelArtifact.objects.select_related("training_run", "snapshot", "base_model").get(pk=_uuid(model_id, "model"))
    except ModelArtifact.DoesNotExist:
        raise NotFound(f"no model with id {model_id!r}", code="unknown_model") from None


# -- whether a base model or a model may be used: the one home of each rule ----------------------
def base_model_refusal(base_model: BaseModel, *, what: str = "base model") -> ApplicationError | None:
    """`base_model_not_approved` unless the base model is approved (and not revoked since)."""
    if base_model.status == BaseModelStatus.APPROVED:
        return None
    return ApplicationError(
        f"{what} {base_model.name} ({base_model.pk}) is {base_model.status}, not approved",
        code="base_model_not_approved",
        status=409,
    )


def model_refusals(artifacts: list[ModelArtifact]) -> dict:
    """For each model (by pk), why it may not generate any more, or None: its snapshot may not
    be used (`snapshot_refusal`: tainted, not approved, a consent lapsed) or its base model is
    not approved. Reads the snapshots and base models as the artifacts were loaded (load them
    with `select_related`), in a constant number of queries for any number of models."""
    lapsed = snapshots_lapsed_consents(list({a.snapshot_id: a.snapshot for a in artifacts}.values()))
    refusals = {}
    for artifact in artifacts:
        refusal = snapshot_refusal(artifact.snapshot, what=f"model {artifact.pk}'s snapshot", lapsed=lapsed[artifact.snapshot_id])
        refusals[artifact.pk] = refusal or base_model_refusal(artifact.base_model, what=f"model {artifact.pk}'s base model")
    return refusals


def model_refusal(artifact: ModelArtifact) -> ApplicationError | None:
    """`model_refusals` for one model, on its current rows (never cached ones)."""
    current = ModelArtifact.objects.select_related("snapshot", "base_model").get(pk=artifact.pk)
    return model_refusals([current])[current.pk]
