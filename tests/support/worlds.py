"""The governed worlds tests stand in, each built once here and handed out by conftest fixtures.

- `World` (`api_world`; the root `world` fixture): carla (contributor) granted a consent and
  uploaded one image to the `portraits` dataset; rita approved it; mel (ML engineer) froze the
  dataset into a snapshot that now waits for review. Through the services.
- `Governed` (`approved_snapshot`; training's `governed` fixture): `count` cleared images
  stored as blobs, written by factories (scenery, no audit events), frozen into a snapshot that
  two reviewers approved through the services.
- `TrainableWorld` (`trainable_world`): carla's two images, approved, frozen into a snapshot
  rita and ravi approved, and the tiny base model registered by mel and approved by both.
  Through the services. Training is requested on it.
- `ModelWorld` (`model_world`; generation's `world` fixture): a trainable world on which mel
  trained a LoRA (2 steps, in-process). pia (product) generates with its model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from core.storage import blob_put_bytes
from provenance.models import Asset, AssetStatus, ConsentRecord, Dataset, Snapshot
from provenance.services.assets import asset_review
from provenance.services.datasets import dataset_create
from provenance.services.snapshots import snapshot_approve, snapshot_create
from tests.provenance.factories import (
    AssetFactory,
    ConsentFactory,
    DatasetFactory,
    add_to_dataset,
    grant_consent,
    image_bytes,
    ingest,
    jpeg,
)
from tests.training.factories import approved_base_model, trained_model
from training.models import BaseModel, ModelArtifact


# -- the API world ----------------------------------------------------------------------------
@dataclass
class World:
    dataset: Dataset
    consent: ConsentRecord
    asset: Asset
    snapshot: Snapshot


def api_world(*, contributor, reviewer, ml_engineer, operator) -> World:
    dataset = dataset_create(slug="portraits", scopes=["ai_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com")
    result = ingest(contributor, dataset, consent, jpeg("carla.jpg", seed=1))
    asset = asset_review(asset_id=result["accepted"][0]["asset_id"], reviewer=reviewer, decision="approve", reason="clean")
    snapshot = snapshot_create(dataset_slug="portraits", actor=ml_engineer)
    return World(dataset=dataset, consent=consent, asset=asset, snapshot=snapshot)


# -- training's approved snapshot -------------------------------------------------------------
@dataclass
class Governed:
    snapshot: Snapshot
    consent: ConsentRecord
    assets: list[Asset]


def approved_snapshot(ml_engineer, reviewer, second_reviewer, *, count: int = 3, seed: int = 100) -> Governed:
    """A dataset of `count` cleared images (stored as blobs, with captions) frozen into a
    snapshot that two reviewers approved."""
    consent = ConsentFactory()
    dataset = DatasetFactory()
    assets = []
    for i in range(count):
        data = image_bytes(seed + i, size=(80, 64))
        sha256 = blob_put_bytes(data)
        assets.append(
            AssetFactory(sha256=sha256, size=len(data), width=80, height=64, consent=consent, caption=f"a photo number {i}")
        )
    assets[-1].caption = ""  # an image without a caption trains on the empty prompt
    assets[-1].save(update_fields=["caption"])
    for asset in assets:
        assert asset.status == AssetStatus.CLEAR
    add_to_dataset(dataset, *assets)
    snapshot_id = str(snapshot_create(dataset_slug=dataset.slug, actor=ml_engineer).pk)
    snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    snapshot_approve(snapshot_id=snapshot_id, reviewer=second_reviewer)
    return Governed(snapshot=Snapshot.objects.get(pk=snapshot_id), consent=consent, assets=assets)


# -- a snapshot and a base model to train on, and the model trained on them -------------------
@dataclass
class TrainableWorld:
    snapshot: Snapshot
    consent: ConsentRecord
    base_model: BaseModel


def trainable_world(
    *, contributor, reviewer, second_reviewer, ml_engineer, operator, base_dir: Path, slug: str = "portraits"
) -> TrainableWorld:
    dataset = dataset_create(slug=slug, scopes=["ai_training", "generative_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com")
    files = [SimpleUploadedFile(f"carla{i}.jpg", image_bytes(100 + i, size=(64, 64)), "image/jpeg") for i in range(2)]
    for row in ingest(contributor, dataset, consent, *files)["accepted"]:
        asset_review(asset_id=row["asset_id"], reviewer=reviewer, decision="approve", reason="clean")
    snapshot_id = str(snapshot_create(dataset_slug=slug, actor=ml_engineer).pk)
    snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    snapshot_approve(snapshot_id=snapshot_id, reviewer=second_reviewer)
    base_model = approved_base_model(base_dir, ml_engineer, reviewer, second_reviewer)
    return TrainableWorld(snapshot=Snapshot.objects.get(pk=snapshot_id), consent=consent, base_model=base_model)


@dataclass
class ModelWorld:
    snapshot: Snapshot
    consent_id: str
    model: ModelArtifact


def model_world(trainable: TrainableWorld, *, ml_engineer) -> ModelWorld:
    """Train on `trainable` (needs a signing identity: the `pki` fixture)."""
    model = trained_model(trainable.snapshot, trainable.base_model, ml_engineer)
    # Read again: training records the snapshot's signed container (its sha256) on first use.
    snapshot = Snapshot.objects.get(pk=trainable.snapshot.pk)
    return ModelWorld(snapshot=snapshot, consent_id=str(trainable.consent.pk), model=model)
