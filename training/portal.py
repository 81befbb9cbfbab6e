"""The models the contributor portal lists: those trained on snapshots holding a contributor's
images (their news, and what a revocation flags)."""

from __future__ import annotations

from provenance.portal.selectors import TrainedModel
from training.models import ModelArtifact


def models_trained_on(snapshot_ids: list[str]) -> list[TrainedModel]:
    artifacts = ModelArtifact.objects.filter(snapshot_id__in=snapshot_ids).select_related("base_model")
    return [
        TrainedModel(
            model_id=str(artifact.pk),
            snapshot_id=str(artifact.snapshot_id),
            base_model=artifact.base_model.name,
            trained_at=artifact.created_at,
        )
        for artifact in artifacts.order_by("created_at", "id")
    ]
