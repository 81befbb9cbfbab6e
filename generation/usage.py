"""The models trained on snapshots and the images each released, for provenance's "Was my
image used?" (provenance.services.usage): provenance may not import training or generation, so
this provider is registered in GenerationConfig.ready."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from generation.models import Output
from provenance.services.usage import ModelUse
from training.models import ModelArtifact


def models_of_snapshots(snapshot_ids: list[Any]) -> dict[Any, list[ModelUse]]:
    models = list(ModelArtifact.objects.filter(snapshot_id__in=snapshot_ids).order_by("created_at", "id"))
    released = dict(
        Output.objects.filter(job__model__in=models, released=True)
        .values("job__model_id")
        .annotate(count=Count("id"))
        .values_list("job__model_id", "count")
    )
    found: dict[Any, list[ModelUse]] = {}
    for model in models:
        found.setdefault(model.snapshot_id, []).append(
            ModelUse(model_id=str(model.pk), trained_at=model.created_at, outputs=released.get(model.pk, 0))
        )
    return found
