"""Training fixtures: the tiny base model (built once per session through `save_pretrained`),
an approved snapshot whose images are real blobs, an approved base model, and the
organisation's signing identity made by `pki_init` in a temporary folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from core.storage import blob_put_bytes
from provenance.models import Asset, AssetStatus, ConsentRecord, Snapshot
from provenance.services.snapshots import snapshot_approve, snapshot_create
from tests.provenance.factories import AssetFactory, ConsentFactory, DatasetFactory, add_to_dataset, image_bytes
from training.models import BaseModel
from training.services import base_model_approve, base_model_register
from training.tiny import build_tiny_base_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The tiny pipeline, built once; tests that change files use `tiny_copy` instead."""
    return build_tiny_base_model(tmp_path_factory.mktemp("tiny") / "tiny-sd")


@pytest.fixture
def tiny_copy(tiny_model_dir, tmp_path) -> Path:
    """A private copy of the tiny pipeline that a test may tamper with."""
    import shutil

    return Path(shutil.copytree(tiny_model_dir, tmp_path / "tiny-sd"))


@pytest.fixture
def pki(settings, tmp_path, db) -> dict:
    """The organisation's signing identity, created by `pki init` under tmp_path."""
    from provenance.c2pa.pki import pki_init

    directory = tmp_path / "pki"
    settings.CLEANROOM_PKI_DIR = directory
    settings.CLEANROOM_SIGNER = {
        "BACKEND": "files",
        "CERT_CHAIN": str(directory / "signer-chain.pem"),
        "KEY": str(directory / "signer-key.pem"),
        "CALLBACK": "",
        "TSA_URL": "",
        "TRUST_ANCHORS": str(directory / "anchors.pem"),
    }
    return pki_init()


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
    snapshot_id = snapshot_create(dataset_slug=dataset.slug, actor=ml_engineer)["snapshot_id"]
    snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    snapshot_approve(snapshot_id=snapshot_id, reviewer=second_reviewer)
    return Governed(snapshot=Snapshot.objects.get(pk=snapshot_id), consent=consent, assets=assets)


@pytest.fixture
def governed(ml_engineer, reviewer, second_reviewer) -> Governed:
    return approved_snapshot(ml_engineer, reviewer, second_reviewer)


def approved_base_model(directory: Path, ml_engineer, reviewer, second_reviewer, *, name: str = "tiny-sd") -> BaseModel:
    registered = base_model_register(directory=directory, name=name, licence="MIT", provenance="built in code", actor=ml_engineer)
    base_model_approve(base_model_id=registered["base_model_id"], reviewer=reviewer)
    base_model_approve(base_model_id=registered["base_model_id"], reviewer=second_reviewer)
    return BaseModel.objects.get(pk=registered["base_model_id"])


@pytest.fixture
def base_model(tiny_model_dir, ml_engineer, reviewer, second_reviewer) -> BaseModel:
    return approved_base_model(tiny_model_dir, ml_engineer, reviewer, second_reviewer)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """The test machine's two cores are shared: two torch threads fighting other processes are
    ten times slower per step than one."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
