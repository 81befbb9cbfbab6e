"""A governed world with a trained model, built through the services, for the generation tests.

carla consented and uploaded two images; rita approved them; mel froze them into a snapshot
that rita and ravi approved; mel registered the tiny base model (the root conftest's
`tiny_model_dir`, built once per session from configs in code), rita and ravi approved it; mel
trained a LoRA on the snapshot (2 steps); the organisation's signing identity lives in the
test's own folder. pia (product) generates. See tests.support.worlds.ModelWorld.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generation.output_index import output_index_forget
from tests.generation.factories import FAST, SIZE, astronaut, corner_mask, png
from tests.provenance.factories import grant_consent, ingest
from tests.support.pki import pki_install
from tests.support.worlds import ModelWorld

# Re-exported only so that tests written against the old layout still import; import them from
# tests.generation.factories and tests.support.worlds (tests/test_test_layout.py refuses this).
World = ModelWorld
__all__ = ["FAST", "SIZE", "World", "astronaut", "corner_mask", "grant_consent", "ingest", "png"]


@pytest.fixture(scope="session")
def tiny_base_dir(tiny_model_dir) -> Path:
    """The root conftest's tiny pipeline, under the name the generation tests knew it by."""
    return tiny_model_dir


@pytest.fixture
def pki(settings, tmp_path, operator) -> dict:
    """The signing identity, initialised by the operator (root conftest: by the command line)."""
    return pki_install(settings, tmp_path / "pki", actor=operator)


@pytest.fixture(autouse=True)
def _generation_settings(settings, tmp_path):
    settings.CLEANROOM_INDEX_DIR = tmp_path / "indexes"
    settings.CLEANROOM_GENERATION = {**settings.CLEANROOM_GENERATION, "DEVICE": "cpu"}
    settings.CLEANROOM_TRAINING = {**settings.CLEANROOM_TRAINING, "DEVICE": "cpu"}
    output_index_forget()
    yield
    output_index_forget()


@pytest.fixture
def world(cpu_model_world) -> ModelWorld:
    return cpu_model_world
