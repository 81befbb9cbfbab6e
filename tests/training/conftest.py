"""Training fixtures: an approved snapshot whose images are real blobs (`governed`), an approved
base model (`base_model`), and one torch thread. The tiny pipeline (`tiny_model_dir`,
`tiny_copy`) and the signing identity (`pki`) come from the root conftest; the builders from
tests.training.factories and tests.support.worlds.
"""

from __future__ import annotations

import pytest

from tests.support.worlds import Governed, approved_snapshot
from tests.training.factories import approved_base_model
from training.models import BaseModel

# Re-exported only so that tests written against the old layout still import; import them from
# tests.training.factories and tests.support.worlds (tests/test_test_layout.py refuses this).
__all__ = ["Governed", "approved_base_model", "approved_snapshot"]


@pytest.fixture
def governed(ml_engineer, reviewer, second_reviewer) -> Governed:
    return approved_snapshot(ml_engineer, reviewer, second_reviewer)


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
