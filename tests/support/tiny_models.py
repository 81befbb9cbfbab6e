"""The tiny Stable Diffusion pipeline that training, generation and the permission matrix share.

Built in code by `training.tiny.build_tiny_base_model` (configs, not downloads), once per
session, by the root conftest's `tiny_model_dir` fixture; a test that changes files takes a
private copy (`tiny_copy`). Builds are deterministic: two builds register with the same digest.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def build_tiny_pipeline(parent: Path) -> Path:
    """Write the tiny pipeline into `parent / "tiny-sd"` and return that folder."""
    from training.tiny import build_tiny_base_model  # torch and diffusers: imported only when built

    return build_tiny_base_model(parent / "tiny-sd")


def private_copy(directory: Path, parent: Path) -> Path:
    """A copy of a built pipeline under `parent`, which a test may tamper with."""
    return Path(shutil.copytree(directory, parent / directory.name))
