"""A governed world with a trained model, built through the services, for the generation tests.

carla consented and uploaded two images; rita approved them; mel froze them into a snapshot
that rita and ravi approved; mel registered the tiny base model (built once per session from
configs in code), rita and ravi approved it; mel trained a LoRA on the snapshot (2 steps); the
organisation's signing identity lives in the test's own folder. pia (product) generates.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from skimage import data as samples

from generation.output_index import output_index_forget
from provenance.models import Snapshot
from provenance.services.assets import asset_review
from provenance.services.datasets import dataset_create
from provenance.services.snapshots import snapshot_approve, snapshot_create
from tests.provenance.api.conftest import grant_consent, ingest
from tests.provenance.factories import image_bytes
from training.models import ModelArtifact

# Small enough for the CPU, large enough for the watermark (rivaGan needs 256²).
SIZE = 256
FAST = {"steps": 2, "guidance": 1.0}


@dataclass
class World:
    snapshot: Snapshot
    consent_id: str
    model: ModelArtifact


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def astronaut(size: int = SIZE) -> Image.Image:
    return Image.fromarray(samples.astronaut()).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def corner_mask(size: int = SIZE, box: tuple[int, int, int, int] = (0, 224, 32, 256)) -> Image.Image:
    """White (repaint) in a small bottom-left corner, black (keep) elsewhere. The tiny model paints
    pixel noise there; kept small, so that the released image is mostly photo and carries the
    watermark (a larger noisy patch in one half of the frame made some ids unreadable)."""
    mask = np.zeros((size, size), dtype=np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 255
    return Image.fromarray(mask, mode="L")


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory) -> Path:
    from training.tiny import build_tiny_base_model

    return build_tiny_base_model(tmp_path_factory.mktemp("tiny-sd") / "tiny-sd")


@pytest.fixture
def pki(settings, tmp_path, operator) -> dict:
    from provenance.c2pa.pki import pki_init

    directory = tmp_path / "pki"
    settings.CLEANROOM_PKI_DIR = directory
    settings.CLEANROOM_SIGNER = {
        **settings.CLEANROOM_SIGNER,
        "BACKEND": "files",
        "CERT_CHAIN": str(directory / "signer-chain.pem"),
        "KEY": str(directory / "signer-key.pem"),
        "TRUST_ANCHORS": str(directory / "anchors.pem"),
        "TSA_URL": "",
    }
    return pki_init(actor=operator)


@pytest.fixture(autouse=True)
def _generation_settings(settings, tmp_path):
    settings.CLEANROOM_INDEX_DIR = tmp_path / "indexes"
    settings.CLEANROOM_GENERATION = {**settings.CLEANROOM_GENERATION, "DEVICE": "cpu"}
    settings.CLEANROOM_TRAINING = {**settings.CLEANROOM_TRAINING, "DEVICE": "cpu"}
    output_index_forget()
    yield
    output_index_forget()


@pytest.fixture
def world(contributor, reviewer, second_reviewer, ml_engineer, operator, product, pki, tiny_base_dir) -> World:
    from training.services import base_model_approve, base_model_register, training_execute, training_request

    dataset = dataset_create(slug="portraits", scopes=["ai_training", "generative_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com")
    files = [SimpleUploadedFile(f"carla{i}.jpg", image_bytes(100 + i, size=(64, 64)), "image/jpeg") for i in range(2)]
    for row in ingest(contributor, dataset, consent, *files)["accepted"]:
        asset_review(asset_id=row["asset_id"], reviewer=reviewer, decision="approve", reason="clean")
    snapshot_id = snapshot_create(dataset_slug="portraits", actor=ml_engineer)["snapshot_id"]
    snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    snapshot_approve(snapshot_id=snapshot_id, reviewer=second_reviewer)
    base = base_model_register(directory=tiny_base_dir, name="tiny-sd", licence="MIT", actor=ml_engineer)
    base_model_approve(base_model_id=base["base_model_id"], reviewer=reviewer)
    base_model_approve(base_model_id=base["base_model_id"], reviewer=second_reviewer)
    run = training_request(snapshot_id=snapshot_id, base_model_id=base["base_model_id"], steps=2, seed=7, actor=ml_engineer)
    result = training_execute(run_id=run.pk, task_id=run.task_id)
    assert result["status"] == "succeeded", result
    return World(
        snapshot=Snapshot.objects.get(pk=snapshot_id),
        consent_id=str(consent.pk),
        model=ModelArtifact.objects.select_related("snapshot", "base_model").get(pk=result["model_id"]),
    )
