"""The `clip` NSFW backend: a locally configured open_clip image embedding scored by a small head
from a local file, or zero-shot against text prompts. Files are checked when the detector is
built; torch and open_clip are imported on the first detection only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.core.exceptions import ImproperlyConfigured
from PIL import Image

from auditing.detectors.nsfw.base import DEFAULT_THRESHOLD, DetectorUnavailable, NsfwDetector, NsfwLabel, NsfwResult
from auditing.detectors.process_cache import once_per_process
from auditing.similarity.embeddings import OpenClipModel

# Zero-shot prompts for ClipNsfwDetector when no trained head is configured.
CLIP_NSFW_PROMPTS: tuple[str, ...] = (
    "an explicit photo of a naked person",
    "a pornographic image",
    "a photo of exposed genitals",
    "a topless photo",
)
CLIP_SAFE_PROMPTS: tuple[str, ...] = (
    "a photo of a clothed person",
    "a photo of a landscape",
    "a photo of an object",
    "a photo of an animal",
    "a photo of people in swimwear at the beach",
)
CLIP_LABEL = "NSFW"
HEAD_SUFFIXES = (".safetensors", ".npz")


@dataclass(frozen=True, eq=False)
class NsfwHead:
    """A classifier over L2-normalised image embeddings: dense layers with ReLU between them,
    ending in one logit; the score is its sigmoid.

    File (.safetensors, or .npz without pickles): `layers.0.weight` (out, in), `layers.0.bias`
    (out,), `layers.1.weight`, ... the last with out = 1 (a linear probe is one layer). An
    optional `threshold` (safetensors metadata, or a scalar array in an .npz) is the score at
    which the head's trainer says to flag; the THRESHOLD setting overrides it.
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    threshold: float | None
    sha256: str

    @property
    def input_dim(self) -> int:
        return int(self.layers[0][0].shape[1])

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        values = np.asarray(embeddings, dtype=np.float64)
        for position, (weight, bias) in enumerate(self.layers):
            values = values @ weight.T + bias
            if position < len(self.layers) - 1:
                values = np.maximum(values, 0.0)
        return 1.0 / (1.0 + np.exp(-values[:, 0]))


def load_nsfw_head(path: str | Path) -> NsfwHead:
    """Read and check a head file; DetectorUnavailable names what is wrong with it."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DetectorUnavailable(f"CLEANROOM_NSFW: HEAD {str(path)!r} is not a file here")
    raw = path.read_bytes()
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open
            from safetensors.numpy import load as load_safetensors

            tensors = load_safetensors(raw)
            with safe_open(str(path), framework="np") as handle:
                metadata = handle.metadata() or {}
            threshold = float(metadata["threshold"]) if "threshold" in metadata else None
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                tensors = {name: archive[name] for name in archive.files}
            threshold = float(tensors.pop("threshold")) if "threshold" in tensors else None
        else:
            raise ValueError(f"the file name must end in {' or '.join(HEAD_SUFFIXES)}")
        layers = []
        for position in range(len(tensors) // 2):
            weight = np.asarray(tensors.pop(f"layers.{position}.weight"), dtype=np.float64)
            bias = np.asarray(tensors.pop(f"layers.{position}.bias"), dtype=np.float64)
            if weight.ndim != 2 or bias.shape != (weight.shape[0],):
                raise ValueError(f"layer {position}: weight {weight.shape} and bias {bias.shape} do not fit")
            if layers and weight.shape[1] != layers[-1][0].shape[0]:
                raise ValueError(
                    f"layer {position} takes {weight.shape[1]} inputs, the layer before gives {layers[-1][0].shape[0]}"
                )
            layers.append((weight, bias))
        if tensors:
            raise ValueError(f"unexpected tensors {sorted(tensors)[:5]}")
        if not layers or layers[-1][0].shape[0] != 1:
            raise ValueError("the last layer must give one logit")
    except (ValueError, KeyError, OSError) as exc:
        raise DetectorUnavailable(
            f"CLEANROOM_NSFW: HEAD {str(path)!r} is not a usable head: {type(exc).__name__}: {exc}"
        ) from None
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise DetectorUnavailable(f"CLEANROOM_NSFW: HEAD {str(path)!r} carries threshold {threshold}, outside (0, 1]")
    return NsfwHead(tuple(layers), threshold, hashlib.sha256(raw).hexdigest())


class ClipNsfwDetector(NsfwDetector):
    """An open_clip image encoder from local files, scoring the whole image.

    With `head_path` (see NsfwHead) the score is the head's sigmoid over the L2-normalised
    image embedding; without it, the probability mass CLIP puts on the NSFW prompts against the
    safe ones (zero-shot: only meaningful with real CLIP weights). Files are checked here, torch
    and open_clip are imported on the first detection only. The threshold is THRESHOLD, else the
    head's own, else 0.5.
    """

    name = "clip"
    setting_keys = frozenset({"THRESHOLD", "WEIGHTS", "MODEL", "HEAD", "DEVICE"})

    def __init__(
        self,
        weights_path: str,
        *,
        model_name: str = "ViT-L-14",
        head_path: str | None = None,
        threshold: float | None = None,
        device: str = "cpu",
    ) -> None:
        try:
            self.model = OpenClipModel(model=model_name, weights=weights_path, device=device, setting="CLEANROOM_NSFW")
        except ImproperlyConfigured as exc:
            raise DetectorUnavailable(f"{exc}. Or use BACKEND 'nudenet'.") from None
        self.head = load_nsfw_head(head_path) if head_path else None
        if threshold is None:
            threshold = self.head.threshold if self.head is not None and self.head.threshold is not None else DEFAULT_THRESHOLD
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold {threshold!r} must be in (0, 1]")
        if self.head is not None and self.head.input_dim != self.model.embed_dim:
            raise DetectorUnavailable(
                f"CLEANROOM_NSFW: HEAD {head_path!r} takes {self.head.input_dim}-dimensional embeddings, "
                f"model {self.model.name!r} gives {self.model.embed_dim}"
            )
        self.threshold = float(threshold)
        scorer = self.head.sha256 if self.head is not None else "zero-shot:" + "|".join(CLIP_NSFW_PROMPTS + CLIP_SAFE_PROMPTS)
        digest = hashlib.sha256(f"{self.model.digest}\0{scorer}".encode()).hexdigest()
        # The model, the head and the threshold all decide: any change re-audits (32 chars at most).
        self.version = f"clip/{digest[:12]}/t{self.threshold:g}"

    def _prompt_embeddings(self) -> np.ndarray:
        return once_per_process(
            ("clip-prompts", self.model.digest), lambda: self.model.embed_texts(CLIP_NSFW_PROMPTS + CLIP_SAFE_PROMPTS)
        )

    def score(self, image: Image.Image) -> float:
        embedding = self.model.embed([image])
        if self.head is not None:
            return float(self.head.scores(embedding)[0])
        logits = 100.0 * (embedding.astype(np.float64) @ self._prompt_embeddings().T.astype(np.float64))[0]
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        return float(probabilities[: len(CLIP_NSFW_PROMPTS)].sum())

    def detect(self, image: Image.Image) -> NsfwResult:
        score = self.score(image)
        label = NsfwLabel(label=CLIP_LABEL, score=score, box=(0, 0, image.width, image.height))
        return NsfwResult(flagged=score >= self.threshold, score=score, threshold=self.threshold, labels=[label])

    @classmethod
    def from_settings(cls, config: Mapping[str, Any]) -> ClipNsfwDetector:
        if not config.get("WEIGHTS"):
            raise ValueError("the 'clip' NSFW backend needs WEIGHTS, the path of a local open_clip checkpoint")
        return cls(
            str(config["WEIGHTS"]),
            model_name=str(config.get("MODEL") or "ViT-L-14"),
            head_path=str(config["HEAD"]) if config.get("HEAD") else None,
            threshold=float(config["THRESHOLD"]) if config.get("THRESHOLD") is not None else None,
            device=str(config.get("DEVICE") or "cpu"),
        )
