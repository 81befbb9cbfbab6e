"""A tiny open_clip model built from a config written here and saved as an operator would place a
real checkpoint (a model config JSON and a weights file; random weights fixed by a seed). It
proves the embedding stage's plumbing, never its accuracy: the evaluation measures with it when
no real model is configured, and the tests build their models with it."""

from __future__ import annotations

import json
from pathlib import Path

TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def write_tiny_clip(
    directory: Path, *, name: str, seed: int = 0, suffix: str = ".safetensors", config: dict | None = None
) -> tuple[Path, Path]:
    """(config path, weights path) of a tiny open_clip model named `name`, weights drawn from `seed`."""
    import open_clip
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / f"{name}.json"
    config_path.write_text(json.dumps(config or TINY_CONFIG))
    open_clip.add_model_config(config_path)
    torch.manual_seed(seed)
    model = open_clip.create_model(name, pretrained=None)
    weights = directory / f"tiny-clip-{seed}{suffix}"
    state = {key: tensor.detach().contiguous() for key, tensor in model.state_dict().items()}
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(weights))
    else:
        torch.save(state, weights)
    return config_path, weights
