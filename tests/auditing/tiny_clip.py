"""The tests' tiny open_clip model (auditing/evaluation/tiny_clip.py builds it), and the checks and
heads the tests build around it."""

from __future__ import annotations

from pathlib import Path

from auditing.evaluation.tiny_clip import TINY_CONFIG
from auditing.evaluation.tiny_clip import write_tiny_clip as write_evaluation_tiny_clip

__all__ = ["TINY_CONFIG", "fit_linear_head", "reference_embedding", "write_head", "write_tiny_clip"]

CONFIG_NAME = "cleanroom-tiny-clip"


def write_tiny_clip(
    directory: Path, *, seed: int = 0, suffix: str = ".safetensors", config: dict | None = None
) -> tuple[Path, Path]:
    """(config path, weights path) of the tests' tiny open_clip model with weights drawn from `seed`."""
    return write_evaluation_tiny_clip(directory, name=CONFIG_NAME, seed=seed, suffix=suffix, config=config)


def reference_embedding(config_path: Path, weights: Path, image) -> list[float]:
    """The image's embedding computed here, straight from the saved file with torch, as a check."""
    import open_clip
    import torch

    open_clip.add_model_config(config_path)
    model, _, preprocess = open_clip.create_model_and_transforms(config_path.stem, pretrained=str(weights))
    model.eval()
    with torch.no_grad():
        features = model.encode_image(preprocess(image.convert("RGB")).unsqueeze(0))
    return (features / features.norm(dim=-1, keepdim=True))[0].tolist()


def fit_linear_head(embeddings, labels, *, margin: float = 4.0):
    """A linear probe whose logit is exactly +margin on the positives and -margin on the others
    (the least-norm solution: fewer images than dimensions, so it interpolates)."""
    import numpy as np

    design = np.hstack([np.asarray(embeddings, dtype=np.float64), np.ones((len(labels), 1))])
    target = np.where(np.asarray(labels, dtype=bool), margin, -margin)
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    return solution[:-1].reshape(1, -1), solution[-1:]


def write_head(path: Path, layers, *, threshold: float | None = None) -> Path:
    """A head file as an operator would ship one: `layers.N.weight` / `layers.N.bias`."""
    import numpy as np

    tensors = {}
    for position, (weight, bias) in enumerate(layers):
        tensors[f"layers.{position}.weight"] = np.asarray(weight, dtype=np.float32)
        tensors[f"layers.{position}.bias"] = np.asarray(bias, dtype=np.float32)
    if path.suffix == ".npz":
        if threshold is not None:
            tensors["threshold"] = np.float64(threshold)
        np.savez(path, **tensors)
    else:
        from safetensors.numpy import save_file

        save_file(tensors, str(path), metadata={"threshold": str(threshold)} if threshold is not None else None)
    return path
