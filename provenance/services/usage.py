"""Where a contributor's image went ("Was my image used?"): every snapshot that includes it,
every model trained on those snapshots and how many outputs each made, and the Merkle
inclusion proof per snapshot. Reads only.

A contributor finds an image only among their own (`contributor_asset`,
`contributor_asset_by_sha256`): a file that is someone else's and a file that is nobody's give
the same answer (None), so the portal is no oracle for other people's images.

Models live in `training` and outputs in `generation`, which provenance may not import: the
app above registers a provider (`on_models_of_snapshots`) in its AppConfig.ready.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from provenance.models import Asset, Contributor, Snapshot, SnapshotMember
from provenance.selectors import snapshots_approvals
from provenance.services.snapshots import SnapshotProof, snapshot_prove


@dataclass(frozen=True)
class ModelUse:
    """A model trained on a snapshot, and how many images it released."""

    model_id: str
    trained_at: datetime
    outputs: int


# Takes snapshot ids, returns each one's models (a snapshot without any may be left out).
ModelsOfSnapshots = Callable[[list[Any]], dict[Any, list[ModelUse]]]
_providers: list[ModelsOfSnapshots] = []


def on_models_of_snapshots(provider: ModelsOfSnapshots) -> None:
    if provider not in _providers:
        _providers.append(provider)


@dataclass(frozen=True)
class SnapshotUse:
    snapshot: Snapshot
    approvals: list[str]
    models: list[ModelUse] = field(default_factory=list)

    @property
    def outputs(self) -> int:
        return sum(model.outputs for model in self.models)


@dataclass(frozen=True)
class AssetUse:
    asset: Asset
    snapshots: list[SnapshotUse]

    @property
    def models(self) -> int:
        return sum(len(use.models) for use in self.snapshots)

    @property
    def outputs(self) -> int:
        return sum(use.outputs for use in self.snapshots)


def contributor_assets(*, contributor: Contributor) -> list[Asset]:
    """Their images, newest first: what the "pick one of your images" list offers."""
    return list(Asset.objects.filter(contributor=contributor).order_by("-created_at", "id"))


def contributor_asset(*, contributor: Contributor, asset_id: Any) -> Asset | None:
    """Their image with this id; None for anyone else's id, an unknown one or one that is no id."""
    try:
        key = uuid.UUID(str(asset_id))
    except ValueError:
        return None
    return Asset.objects.filter(contributor=contributor, pk=key).first()


def contributor_asset_by_sha256(*, contributor: Contributor, sha256: str) -> Asset | None:
    """Their image whose bytes have this SHA-256 (the bytes of a dropped file, never stored)."""
    return Asset.objects.filter(contributor=contributor, sha256=sha256).first()


def asset_usage(*, asset: Asset) -> AssetUse:
    """Every snapshot that includes the image (newest first), with its approvers and the models
    trained on it."""
    snapshots = list(
        Snapshot.objects.filter(pk__in=SnapshotMember.objects.filter(asset=asset).values("snapshot_id"))
        .select_related("dataset")
        .order_by("-created_at", "id")
    )
    approvals = snapshots_approvals(snapshots)
    models: dict[Any, list[ModelUse]] = {}
    for provider in _providers:
        for snapshot_id, uses in provider([snapshot.pk for snapshot in snapshots]).items():
            models.setdefault(snapshot_id, []).extend(uses)
    return AssetUse(
        asset=asset,
        snapshots=[
            SnapshotUse(snapshot=snapshot, approvals=approvals[snapshot.pk], models=models.get(snapshot.pk, []))
            for snapshot in snapshots
        ],
    )


def asset_snapshot_proof(*, asset: Asset, snapshot_id: Any) -> SnapshotProof | None:
    """The inclusion proof of the image in the snapshot; None unless the snapshot includes it."""
    try:
        key = uuid.UUID(str(snapshot_id))
    except ValueError:
        return None
    if not SnapshotMember.objects.filter(asset=asset, snapshot_id=key).exists():
        return None
    proof = snapshot_prove(snapshot_id=str(key), sha256=asset.sha256)
    return proof if proof.included else None
