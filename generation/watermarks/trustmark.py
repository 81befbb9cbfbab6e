"""The `trustmark` watermark backend: Adobe's TrustMark (MIT), for operators who provide its files.

The `trustmark` package fetches its model files from Adobe's servers on first use, which cannot
work without a network; this backend never fetches anything. The operator places one variant's
files in `CLEANROOM_WATERMARK['TRUSTMARK_MODEL_DIR']`:

    trustmark_<V>.yaml   encoder_<V>.ckpt   decoder_<V>.ckpt     (V: TRUSTMARK_VARIANT, default Q)

Before anything is loaded, each file's MD5 is checked against the list the `trustmark` package
publishes (`MODEL_CHECKSUMS`). Checkpoints are pickles, so only those published files are
unpickled in full; a model the operator trained themselves is refused unless
`TRUSTMARK_ALLOW_UNPUBLISHED` is on, and is then read with torch's weights-only unpickler. A
checkpoint that leaves any of the encoder's or decoder's weights unset is refused (TrustMark's
own loader would run with random weights).

The mark carries the same 24-bit watermark id as the rivaGan backend, under the same extended
BCH code with this backend's own mask (generation/watermark_payload.py): the 64-bit codeword
fills the model's first 64 secret bits and its first bits repeat in the rest (TrustMark's
released models carry 100), and the decoder's logits are soft-decoded against the same
false-positive limit. As in TrustMark's own `encode`, the image (or, past a 2:1 aspect, its
centre square; always the square for variant P) goes to the encoder at 256², and the residual,
less its mean colour, is resized back onto the full-size pixels.

Detection reads this backend's mark and then rivaGan's, v2 and v1 (outputs made before the
switch; see `also_reads`), each with a third of the false-positive limit.

Torch is imported here, so only workers import this module (the registry does, on first use).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from PIL import Image

from generation.watermark_payload import CODE_BITS, Decoded, PayloadCode, soft_decode, word_bits
from generation.watermarks.base import MIN_DETECT_AREA, WatermarkBackend, WatermarkHit

NAME = "trustmark"
ALGORITHM = "org.cleanroom.trustmark-bch.1"
VARIANTS = ("Q", "P", "B", "C")
ENCODER_RESOLUTION = 256
_DECODER_RESOLUTION = {"P": 224}  # the other variants read at 245
_ASPECT_LIMIT = 2.0
# Components TrustMark's configs name that inference does not need (replaced by identities).
_UNUSED_PARTS = ("discriminator_config", "loss_config", "noise_config")

_CODE = PayloadCode(ALGORITHM)


@dataclass(frozen=True)
class TrustMarkModels:
    encoder: object  # forward(cover, secret) -> (stego, residual)
    decoder: object  # .decoder(image) -> logits, one per secret bit
    secret_len: int
    variant: str


def model_files(directory: Path, variant: str) -> dict[str, Path]:
    return {
        "config": directory / f"trustmark_{variant}.yaml",
        "encoder": directory / f"encoder_{variant}.ckpt",
        "decoder": directory / f"decoder_{variant}.ckpt",
    }


def _settings() -> tuple[Path, str, bool]:
    config = getattr(settings, "CLEANROOM_WATERMARK", {})
    directory = config.get("TRUSTMARK_MODEL_DIR") or ""
    variant = config.get("TRUSTMARK_VARIANT") or "Q"
    if not directory:
        raise ImproperlyConfigured(
            "the trustmark watermark needs CLEANROOM_TRUSTMARK_MODEL_DIR: a folder with TrustMark's model files "
            "(they cannot be downloaded here)"
        )
    if variant not in VARIANTS:
        raise ImproperlyConfigured(f"CLEANROOM_TRUSTMARK_VARIANT {variant!r} is not one of {', '.join(VARIANTS)}")
    return Path(directory), variant, bool(config.get("TRUSTMARK_ALLOW_UNPUBLISHED"))


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _published_checksums() -> dict[str, str]:
    try:
        from trustmark.trustmark import MODEL_CHECKSUMS
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"the trustmark watermark needs the trustmark package (pip install '.[trustmark]'): {exc}"
        ) from exc
    return dict(MODEL_CHECKSUMS)


def check_model_files(directory: Path, variant: str, *, allow_unpublished: bool) -> dict[str, bool]:
    """Which of the variant's files are TrustMark's published ones (by MD5); raises
    ImproperlyConfigured when one is missing, or differs and unpublished files are not allowed."""
    files = model_files(directory, variant)
    missing = [path.name for path in files.values() if not path.is_file()]
    if missing:
        raise ImproperlyConfigured(
            f"TrustMark's model files are not in {directory}: {', '.join(missing)} missing "
            "(the trustmark package cannot download them here; copy them there)"
        )
    published = _published_checksums()
    verdict = {}
    for role, path in files.items():
        verdict[role] = published.get(path.name) == _md5(path)
        if not verdict[role] and not allow_unpublished:
            raise ImproperlyConfigured(
                f"{path} is not TrustMark's published {path.name} (its MD5 differs); set "
                "CLEANROOM_TRUSTMARK_ALLOW_UNPUBLISHED=true to use a model you trained yourself"
            )
    return verdict


def _instantiate(config):
    module_name, _, class_name = str(config["target"]).rpartition(".")
    params = config.get("params") or {}
    return getattr(importlib.import_module(module_name), class_name)(**params)


def _load_part(config_path: Path, weights: Path, *, part: str, published: bool):
    import torch
    from omegaconf import OmegaConf

    config = OmegaConf.load(config_path).model
    params = config.get("params") or {}
    unused = [*_UNUSED_PARTS, "secret_decoder_config" if part == "encoder" else "secret_encoder_config"]
    for name in unused:
        if name in params:
            params[name].target = "trustmark.model.Identity"
    model = _instantiate(config)
    # Published files are unpickled in full (TrustMark's checkpoints hold training state beside
    # the weights); anything else only as tensors.
    try:
        state = torch.load(weights, map_location="cpu", weights_only=not published)
    except Exception as exc:  # an unpickling error names what the file holds
        kind = "as weights only (it holds more than tensors)" if not published else ""
        raise ImproperlyConfigured(f"{weights.name} cannot be read {kind}: {exc}".replace("  ", " ")) from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    missing, _ = model.load_state_dict(state, strict=False)
    unset = [key for key in missing if key.startswith(f"{part}.")]
    if unset:
        raise ImproperlyConfigured(f"{weights.name} leaves {len(unset)} of the {part}'s weights unset (e.g. {unset[0]})")
    model.eval()
    return model, int(params.get("secret_len", 0))


_models_cache: dict[tuple, TrustMarkModels] = {}
_models_lock = threading.Lock()


def models() -> TrustMarkModels:
    """The configured variant's encoder and decoder, loaded once per process and file identity
    (a replaced file is picked up at once)."""
    directory, variant, allow_unpublished = _settings()
    files = model_files(directory, variant)
    identity = tuple((str(path), *_stat(path)) for path in files.values())
    key = (os.getpid(), variant, allow_unpublished, identity)
    found = _models_cache.get(key)
    if found is not None:
        return found
    with _models_lock:
        found = _models_cache.get(key)
        if found is None:
            published = check_model_files(directory, variant, allow_unpublished=allow_unpublished)
            encoder, secret_len = _load_part(files["config"], files["encoder"], part="encoder", published=published["encoder"])
            decoder, _ = _load_part(files["config"], files["decoder"], part="decoder", published=published["decoder"])
            if secret_len < CODE_BITS:
                raise ImproperlyConfigured(f"the TrustMark model carries {secret_len} bits; the watermark needs {CODE_BITS}")
            found = TrustMarkModels(encoder, decoder, secret_len, variant)
            _models_cache.clear()
            _models_cache[key] = found
    return found


def _stat(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def _region(width: int, height: int, variant: str) -> tuple[int, int, int, int]:
    """The box TrustMark marks: the whole image, or its centre square past a 2:1 aspect."""
    if variant == "P" or max(width, height) / min(width, height) > _ASPECT_LIMIT:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return left, top, left + side, top + side
    return 0, 0, width, height


def _to_tensor(image: Image.Image, size: int):
    import torch

    array = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]


def secret_bits(payload: int, secret_len: int) -> np.ndarray:
    """The model's secret for `payload`: the 64-bit codeword, then its first bits again."""
    word = word_bits(_CODE.encode(payload)).astype(np.float32)
    return np.resize(word, secret_len)


def embed(rgb: Image.Image, payload: int) -> Image.Image:
    """`rgb` (RGB) carrying `payload`, same size."""
    import torch

    loaded = models()
    box = _region(*rgb.size, loaded.variant)
    region = rgb.crop(box)
    cover = _to_tensor(region, ENCODER_RESOLUTION)
    secret = torch.from_numpy(secret_bits(payload, loaded.secret_len))[None]
    with torch.no_grad():
        stego, _ = loaded.encoder(cover, secret)
        residual = stego.clamp(-1, 1) - cover
        residual = residual - residual.mean(dim=(2, 3), keepdim=True)  # no colour shift
        residual = torch.nn.functional.interpolate(residual, size=(region.height, region.width), mode="bilinear")
    change = residual[0].permute(1, 2, 0).numpy() * 127.5
    marked = np.asarray(rgb, dtype=np.float32).copy()
    left, top, right, bottom = box
    marked[top:bottom, left:right] += change
    return Image.fromarray(np.clip(np.rint(marked), 0, 255).astype(np.uint8))


def logits(rgb: Image.Image, *, mirrored: bool = False) -> np.ndarray:
    """The decoder's 64 soft scores for the codeword (repeated bits summed), each divided by
    their median magnitude; > 0 means 1."""
    import torch

    loaded = models()
    if mirrored:
        rgb = rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    region = rgb.crop(_region(*rgb.size, loaded.variant))
    with torch.no_grad():
        raw = loaded.decoder.decoder(_to_tensor(region, _DECODER_RESOLUTION.get(loaded.variant, 245)))
    raw = raw[0].double().numpy()[: loaded.secret_len]
    scores = np.zeros(CODE_BITS)
    for start in range(0, loaded.secret_len, CODE_BITS):
        chunk = raw[start : start + CODE_BITS]
        scores[: len(chunk)] += chunk
    scale = float(np.median(np.abs(scores)))
    return scores / scale if scale > 0 else np.zeros_like(scores)


def decode(scores: np.ndarray, *, max_false_positive: float) -> Decoded | None:
    """The payload the scores carry (see watermark_payload.soft_decode), or None."""
    return soft_decode(_CODE, scores, max_false_positive=max_false_positive)


class TrustMarkWatermark(WatermarkBackend):
    name = NAME
    algorithm = ALGORITHM
    also_reads = ("rivagan", "rivagan-v1")

    def embed(self, rgb: Image.Image, payload: int) -> Image.Image:
        return embed(rgb, payload)

    def detect(self, rgb: Image.Image, *, try_mirror: bool, max_false_positive: float) -> WatermarkHit | None:
        if rgb.width * rgb.height < MIN_DETECT_AREA:
            return None
        attempts = (False, True) if try_mirror else (False,)
        for mirrored in attempts:
            decoded = decode(logits(rgb, mirrored=mirrored), max_false_positive=max_false_positive / len(attempts))
            if decoded is not None:
                return WatermarkHit(
                    payload=decoded.payload,
                    corrected_bits=decoded.flipped_bits,
                    false_positive_bound=min(1.0, decoded.false_positive_bound * len(attempts)),
                    mirrored=mirrored,
                    backend=NAME,
                )
        return None
