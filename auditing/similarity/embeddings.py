"""Image embeddings from a locally configured open_clip model.

The near-duplicate candidate search uses them beside its hashes (settings.CLEANROOM_EMBEDDINGS)
and the CLIP NSFW backend scores them with a head (settings.CLEANROOM_NSFW). Both name a model
the same way:

- MODEL: a built-in open_clip architecture ("ViT-B-32"), or the path of a model config JSON
  (`embed_dim`, `vision_cfg`, `text_cfg`) registered with `open_clip.add_model_config` under
  its file stem;
- WEIGHTS: a local checkpoint (.safetensors, .pt, .pth, .bin), loaded through
  `open_clip.create_model_and_transforms(name, pretrained=PATH)`.

Nothing is ever downloaded: hub schemas ("hf-hub:", "local-dir:") are refused and WEIGHTS must
be an existing file, so a pretrained tag such as "openai" (which open_clip would fetch) is
refused too. A configuration error is an ImproperlyConfigured naming the setting. torch and
open_clip are imported on the first embedding only: the web process reads auditor versions
through this module and must never load them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.core.exceptions import ImproperlyConfigured
from PIL import Image

from auditing.detectors.process_cache import once_per_process

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
_HUB_SCHEMAS = ("hf-hub:", "local-dir:")
_CONFIG_KEYS = ("embed_dim", "vision_cfg", "text_cfg")
# The weights' part of a version: size and the first and last MiB. A fine-tuned or different
# checkpoint changes its first tensors; hashing a 1.7 GB ViT-L file whole would cost seconds in
# every process that only wants to know the auditor's version.
_DIGEST_SPAN = 1 << 20

DEFAULT_CANDIDATES = 8
# Cosine similarity below which an embedding neighbour is not worth verifying. CLIP puts
# re-encoded, resized, cropped and flipped copies well above it and most unrelated photos
# below; verification decides either way, the threshold only bounds its work.
DEFAULT_MIN_SIMILARITY = 0.75
# open_clip's usual preprocessing ("shortest") scales the short side to the model's input and
# keeps the centre square, so a 10000×1 line would first become a 2,240,000×224 image (1.5 GB)
# and a 100-megapixel line would not fit in memory. The centre is cut out first, down to this
# aspect ratio: the square the model sees is the same, with margins to spare for resampling.
MAX_PREPROCESS_ASPECT = 2.0
_EMBEDDING_KEYS = {"MODEL", "WEIGHTS", "DEVICE", "CANDIDATES", "MIN_SIMILARITY"}


def _quick_digest(path: Path) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(_DIGEST_SPAN))
        if size > 2 * _DIGEST_SPAN:
            handle.seek(-_DIGEST_SPAN, 2)
        digest.update(handle.read(_DIGEST_SPAN))
    return digest.hexdigest()


def _builtin_config(name: str) -> Path | None:
    """The JSON of a built-in open_clip architecture, found without importing open_clip."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model_configs" / f"{name}.json"
    return path if path.is_file() else None


class OpenClipModel:
    """An open_clip model from local files: validated when built, loaded on first use."""

    def __init__(self, *, model: str, weights: str, device: str = "cpu", setting: str = "CLEANROOM_EMBEDDINGS") -> None:
        self.setting = setting
        model, weights = str(model or "").strip(), str(weights or "").strip()
        if not model or not weights:
            raise ImproperlyConfigured(
                f"{setting} needs MODEL (an open_clip architecture or config JSON) and WEIGHTS (a local file)"
            )
        if model.startswith(_HUB_SCHEMAS):
            raise ImproperlyConfigured(
                f"{setting}: MODEL {model!r} names a hub or folder schema; name a config JSON file and a local WEIGHTS file"
            )
        if importlib.util.find_spec("open_clip") is None or importlib.util.find_spec("torch") is None:
            raise ImproperlyConfigured(f"{setting}: the open_clip model needs the packages 'torch' and 'open_clip_torch'")
        self.weights = Path(weights).expanduser().resolve()
        if not self.weights.is_file():
            raise ImproperlyConfigured(
                f"{setting}: WEIGHTS {weights!r} is not a file here; give the path of a local checkpoint "
                f"({', '.join(WEIGHT_SUFFIXES)}), never a pretrained tag: nothing is downloaded"
            )
        if self.weights.suffix not in WEIGHT_SUFFIXES:
            raise ImproperlyConfigured(f"{setting}: WEIGHTS {weights!r} is not a checkpoint ({', '.join(WEIGHT_SUFFIXES)})")
        self.config_path: Path | None = None
        if model.endswith(".json") or "/" in model:
            self.config_path = Path(model).expanduser().resolve()
            self.config = self._read_config(self.config_path)
            self.name = self.config_path.stem
            identity = json.dumps(self.config, sort_keys=True)
        else:
            builtin = _builtin_config(model)
            if builtin is None:
                raise ImproperlyConfigured(
                    f"{setting}: MODEL {model!r} is neither a config JSON file nor a built-in open_clip architecture"
                )
            self.config = json.loads(builtin.read_text())
            self.name = model
            identity = model
        self.device = device
        self._digest = hashlib.sha256(f"{identity}\0{_quick_digest(self.weights)}".encode()).hexdigest()
        # Stored beside every embedding: vectors of another model (or other weights) never mix.
        self.version = f"{self.name[:40]}/{self._digest[:16]}"

    def _read_config(self, path: Path) -> dict[str, Any]:
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ImproperlyConfigured(f"{self.setting}: MODEL config {str(path)!r} cannot be read: {exc}") from None
        if not isinstance(config, dict) or not all(key in config for key in _CONFIG_KEYS):
            raise ImproperlyConfigured(f"{self.setting}: MODEL config {str(path)!r} needs {', '.join(_CONFIG_KEYS)}")
        return config

    @property
    def digest(self) -> str:
        """A digest of the architecture and the weights."""
        return self._digest

    @property
    def embed_dim(self) -> int:
        return int(self.config["embed_dim"])

    def _loaded(self) -> tuple[Any, Any]:
        return once_per_process(("open_clip", self.name, self._digest, str(self.weights), self.device), self._build)

    def _build(self) -> tuple[Any, Any]:
        import open_clip
        import torch

        # Audit workers scale by processes; a second thread per process only competes for cores.
        torch.set_num_threads(1)
        if self.config_path is not None:
            open_clip.add_model_config(self.config_path)
            if open_clip.get_model_config(self.name) != self.config:
                raise ImproperlyConfigured(
                    f"{self.setting}: another open_clip config is registered as {self.name!r}; rename {self.config_path}"
                )
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                self.name,
                pretrained=str(self.weights),
                device=self.device,
                pretrained_image=False,
                pretrained_text=False,
                require_pretrained=True,
                weights_only=True,
            )
        except Exception as exc:
            raise ImproperlyConfigured(
                f"{self.setting}: the weights {str(self.weights)!r} do not load into open_clip model {self.name!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        model.eval()
        return model, preprocess

    def load(self) -> None:
        """Load now (a command fails before its first file rather than on it)."""
        self._loaded()

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """L2-normalised float32 image embeddings, one row per image, in order."""
        import torch

        from auditing.similarity.fingerprint import as_viewed_rgb

        model, preprocess = self._loaded()
        if not images:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        resize_mode = (getattr(model.visual, "preprocess_cfg", None) or {}).get("resize_mode", "shortest")
        viewed = [as_viewed_rgb(image) for image in images]
        if resize_mode == "shortest":
            viewed = [_centre_within_aspect(image, MAX_PREPROCESS_ASPECT) for image in viewed]
        batch = torch.stack([preprocess(image) for image in viewed]).to(self.device)
        with torch.inference_mode():
            features = model.encode_image(batch).float()
        return _normalised(features.cpu().numpy())

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 text embeddings (open_clip's bundled tokenizer; no download)."""
        import open_clip
        import torch

        model, _ = self._loaded()
        tokens = open_clip.get_tokenizer(self.name)(list(texts)).to(self.device)
        with torch.inference_mode():
            features = model.encode_text(tokens).float()
        return _normalised(features.cpu().numpy())


def _centre_within_aspect(image: Image.Image, max_aspect: float) -> Image.Image:
    """The image, or its centre cut to `max_aspect` (long side over short side) when longer."""
    width, height = image.size
    keep = max(1, round(max_aspect * min(width, height)))
    if width > keep:
        left = (width - keep) // 2
        return image.crop((left, 0, left + keep, height))
    if height > keep:
        top = (height - keep) // 2
        return image.crop((0, top, width, top + keep))
    return image


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def vector_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<f4").astype(np.float32)


@dataclass(frozen=True)
class CandidateEmbeddings:
    """The embedding stage of the near-duplicate candidate search, as configured."""

    model: OpenClipModel
    candidates: int = DEFAULT_CANDIDATES
    min_similarity: float = DEFAULT_MIN_SIMILARITY

    @property
    def version(self) -> str:
        return self.model.version

    def embed(self, image: Image.Image) -> np.ndarray:
        return self.model.embed([image])[0]


def _frozen(config: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(key), repr(value)) for key, value in config.items()))


# Keyed by the config's value: the weights digest is read once per process, and settings
# changed at run time (tests, a reloaded worker) are honoured.
_configured: dict[tuple[tuple[str, str], ...], CandidateEmbeddings | None] = {}


def candidate_embeddings(config: Mapping[str, Any] | None = None) -> CandidateEmbeddings | None:
    """The configured embedding stage (settings.CLEANROOM_EMBEDDINGS), or None when it is off
    (neither MODEL nor WEIGHTS). Validates the files without loading torch."""
    if config is None:
        from django.conf import settings

        config = getattr(settings, "CLEANROOM_EMBEDDINGS", None) or {}
    key = _frozen(config)
    if key not in _configured:
        _configured[key] = _from_config(dict(config))
    return _configured[key]


def _from_config(config: dict[str, Any]) -> CandidateEmbeddings | None:
    unknown = set(config) - _EMBEDDING_KEYS
    if unknown:
        raise ImproperlyConfigured(f"unknown CLEANROOM_EMBEDDINGS keys: {', '.join(sorted(unknown))}")
    if not config.get("MODEL") and not config.get("WEIGHTS"):
        return None
    candidates = int(config.get("CANDIDATES", DEFAULT_CANDIDATES))
    min_similarity = float(config.get("MIN_SIMILARITY", DEFAULT_MIN_SIMILARITY))
    if candidates < 1:
        raise ImproperlyConfigured("CLEANROOM_EMBEDDINGS['CANDIDATES'] must be at least 1")
    if not -1.0 <= min_similarity <= 1.0:
        raise ImproperlyConfigured("CLEANROOM_EMBEDDINGS['MIN_SIMILARITY'] is a cosine similarity, in [-1, 1]")
    model = OpenClipModel(
        model=config.get("MODEL", ""), weights=config.get("WEIGHTS", ""), device=str(config.get("DEVICE") or "cpu")
    )
    return CandidateEmbeddings(model, candidates, min_similarity)
