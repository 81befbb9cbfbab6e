"""The invisible watermark that carries an output's watermark id (one of the two soft bindings).

Backend: the rivaGan encoder/decoder ONNX models shipped by `invisible-watermark` (MIT), run
directly with onnxruntime: the package's Python wrapper imports torch for two array reshapes,
and its `encode` truncates instead of rounding. Each model call carries 32 bits; we mark the
two halves of the image (split across its longer side) with the two halves of one 64-bit word,
which holds a 24-bit payload under an extended BCH code with a fixed mask
(generation/watermark_payload.py explains the code and the false-positive bound).

Scale: an image larger than WORKING_AREA pixels is marked on a copy resampled to that area
(aspect kept) and the mark's residual is resampled onto the full-size image, so embedding costs
the same for a 512² or a 2048² output; a smaller image (≥ MIN_EMBED_AREA) is marked at its own
size. Detection decodes the copy at the working scale (which undoes a resize) and, for a copy
smaller than that, also at its own size, each as is and mirrored (rivaGan does not survive a
flip); the false-positive limit is split between these attempts.

Robustness (bench/soft_binding.py): at 512² and above the mark survives JPEG q=75, a resize to
50% and a 10% crop; at 256² the halves are small and it survives a lossless re-save and JPEG
q=90 but not q=75 (the fingerprint covers those).

The `trustmark` backend (CLEANROOM_WATERMARK['BACKEND']; generation/watermark_trustmark.py) puts
the same payload code, with its own mask, into Adobe's TrustMark when the operator provides its
model files; `detect_watermark` then reads TrustMark first and rivaGan second (outputs made
before the switch), each with half the false-positive limit.

Costs on 2 CPU cores: ~1 s per model pass at 512². Embedding is one pass plus one to read the
mark back; detection stops at its first hit: one pass on a marked copy, two on an unmarked one
(as is, mirrored), four on an unmarked copy smaller than 512² (two scales).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from generation.watermark_payload import CODE_BITS, PAYLOAD_BITS, PayloadCode, soft_decode, word_bits

__all__ = [
    "MAX_FALSE_POSITIVE",
    "MIN_EMBED_AREA",
    "PAYLOAD_BITS",
    "WATERMARK_ALGORITHM",
    "WatermarkHit",
    "WatermarkNotApplicable",
    "WatermarkReading",
    "detect_watermark",
    "embed_watermark",
    "payload_word",
    "read_watermark",
    "watermark_algorithm",
]

# Named in the C2PA soft-binding assertion. The payload mask is derived from it, so a change of
# code, layout or mask must come with a new name.
WATERMARK_ALGORITHM = "org.cleanroom.rivagan-bch.1"
BACKEND = "rivagan"
TRUSTMARK = "trustmark"

# The chance that one unmarked image is reported as marked, all detection attempts together.
MAX_FALSE_POSITIVE = 1e-9

# rivaGan's encoder moves nearly every pixel by ±2.04 grey levels (a saturated tanh); scaled by
# this it rounds to ±3: ~39 dB PSNR (38.8-39.2 on photos) instead of 42.6 (invisible-watermark's
# own wrapper, which truncates, measures ~40.7), and on 8 photos 7 instead of 6 decode after
# JPEG q=75, 5 instead of 0 after q=50.
STRENGTH = 1.5

WORKING_AREA = 512 * 512
# Smaller images are refused. At 256² each half is 128×256 (rivaGan's own wrapper wants 256² per
# call): the mark survives a lossless re-save and JPEG q=90 there, not q=75. Marking a small
# image on an upscaled copy was worse (the residual does not survive being scaled back down).
MIN_EMBED_AREA = 256 * 256
# Each half of the working frame is at least this many pixels on its short side.
_MIN_HALF_SIDE = 128
# A copy smaller than this (a thumbnail) is not worth the decoder's second.
_MIN_DETECT_AREA = 128 * 128

_CODE = PayloadCode(WATERMARK_ALGORITHM)


class WatermarkNotApplicable(ValueError):
    """This image cannot carry a readable watermark (too small, too elongated or too flat).

    The caller relies on the fingerprint alone and leaves the watermark out of the manifest.
    """


@dataclass(frozen=True)
class WatermarkHit:
    payload: int
    corrected_bits: int  # of the 64 hard decisions, how many disagreed with the codeword
    false_positive_bound: float  # chance that an unmarked image decodes this well, all attempts included
    mirrored: bool  # found in the mirrored image (the copy was flipped)
    backend: str = BACKEND

    @property
    def agreement(self) -> float:
        return 1.0 - self.corrected_bits / CODE_BITS

    @property
    def confidence(self) -> float:
        return 1.0 - self.false_positive_bound


# One pair of sessions per process: onnxruntime sessions hold thread pools that do not survive
# a fork, so a Celery worker child must load its own.
_sessions: dict[int, tuple[object, object]] = {}
_sessions_lock = threading.Lock()


def _model_dir() -> Path:
    # find_spec does not execute imwatermark/__init__.py (which imports torch).
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("the rivaGan watermark needs the invisible-watermark package (imwatermark)")
    return Path(next(iter(spec.submodule_search_locations)))


def _check_backend() -> str:
    """The configured backend's name: `rivagan` (the default, and the only one outside Django),
    or `trustmark` (generation/watermark_trustmark.py, with operator-provided model files)."""
    from django.conf import settings

    if not settings.configured:
        return BACKEND
    backend = getattr(settings, "CLEANROOM_WATERMARK", {}).get("BACKEND", BACKEND)
    if backend in (BACKEND, TRUSTMARK):
        return backend
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"unknown CLEANROOM_WATERMARK['BACKEND'] {backend!r}: use 'rivagan' or 'trustmark'")


def watermark_algorithm() -> str:
    """The configured backend's name in the C2PA soft-binding assertion."""
    if _check_backend() == TRUSTMARK:
        from generation import watermark_trustmark

        return watermark_trustmark.ALGORITHM
    return WATERMARK_ALGORITHM


def _models() -> tuple[object, object]:
    pid = os.getpid()
    sessions = _sessions.get(pid)
    if sessions is None:
        with _sessions_lock:
            sessions = _sessions.get(pid)
            if sessions is None:
                import onnxruntime

                _sessions.clear()  # sessions inherited from a parent process are unusable here
                directory = _model_dir()
                sessions = (
                    onnxruntime.InferenceSession(str(directory / "rivagan_encoder.onnx"), providers=["CPUExecutionProvider"]),
                    onnxruntime.InferenceSession(str(directory / "rivagan_decoder.onnx"), providers=["CPUExecutionProvider"]),
                )
                _sessions[pid] = sessions
    return sessions


def _working_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) scaled, aspect kept, to an area of WORKING_AREA pixels."""
    scale = (WORKING_AREA / (width * height)) ** 0.5
    return max(1, round(width * scale)), max(1, round(height * scale))


def _embedding_size(width: int, height: int) -> tuple[int, int]:
    # Large images are marked at the working scale (the cost stays ~1 s); smaller ones at their
    # own: upscaling them for the encoder and bringing the residual back down loses most of it.
    return (width, height) if width * height <= WORKING_AREA else _working_size(width, height)


def _detection_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """Scales a copy's mark may have been made at: the working scale (an output of any size
    that was resized, or a large one as is) and, for a small copy, its own (a small output)."""
    sizes = [_working_size(width, height)]
    if MIN_EMBED_AREA <= width * height < WORKING_AREA:
        sizes.append((width, height))
    return sizes


def _halves(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two halves across the longer side, of equal shape (a middle line of an odd side is in neither)."""
    height, width = frame.shape[:2]
    if width >= height:
        return frame[:, : width // 2], frame[:, width - width // 2 :]
    return frame[: height // 2], frame[height - height // 2 :]


def _to_model(frames: list[np.ndarray]) -> np.ndarray:
    """RGB uint8 frames (same shape) → the models' input: BGR in [-1, 1], (batch, 3, 1, H, W)."""
    batch = np.stack(frames)[..., ::-1].astype(np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2)[:, :, None])


def _rgb(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image) or image
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _frame(rgb: Image.Image, size: tuple[int, int]) -> np.ndarray:
    frame = rgb if rgb.size == size else rgb.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(frame, dtype=np.uint8)


def _applicable(width: int, height: int) -> None:
    if width * height < MIN_EMBED_AREA:
        raise WatermarkNotApplicable(
            f"{width}×{height} is too small for the watermark (needs at least {MIN_EMBED_AREA:,} pixels)"
        )
    w, h = _embedding_size(width, height)
    half_short = min(w // 2, h) if w >= h else min(w, h // 2)
    if half_short < _MIN_HALF_SIDE:
        raise WatermarkNotApplicable(f"{width}×{height} is too elongated for the watermark")


def embed_watermark(image: Image.Image, payload: int, *, verify: bool = True) -> Image.Image:
    """A copy of `image` (RGB, or RGBA when it had alpha, same size) carrying `payload`.

    `payload` is a watermark id in [0, 2**PAYLOAD_BITS), allocated by the caller. Raises
    WatermarkNotApplicable when the image cannot carry it: too small, too elongated, or (with
    `verify`, the default: one more decoder pass) when the marked image does not read back,
    which is what happens on flat or very smooth images.
    """
    backend = _check_backend()
    rgb = _rgb(image)
    _applicable(*rgb.size)
    if backend == TRUSTMARK:
        from generation import watermark_trustmark

        marked_image = watermark_trustmark.embed(rgb, payload)
    else:
        marked_image = _embed_bits(rgb, word_bits(_CODE.encode(payload)))
    if verify:
        if backend == TRUSTMARK:
            hit = _trustmark_hit(marked_image, try_mirror=False, max_false_positive=MAX_FALSE_POSITIVE)
        else:
            reading = _read(marked_image, try_mirror=False, stop_at_hit=False, sizes=[_embedding_size(*rgb.size)])
            hit = reading.hit() if reading is not None else None
        if hit is None or hit.payload != payload:
            raise WatermarkNotApplicable("the image is too flat to carry a readable watermark")
    if image.mode in ("RGBA", "LA", "PA"):
        marked_image.putalpha(image.getchannel("A"))
    return marked_image


def _embed_bits(rgb: Image.Image, word: np.ndarray) -> Image.Image:
    """`rgb` carrying the 64 bits `word`, 32 per half of the working frame, at full size."""
    encoder, _ = _models()
    frame = _frame(rgb, _embedding_size(*rgb.size))
    bits = np.asarray(word, dtype=np.float32)
    residual = np.zeros(frame.shape, dtype=np.float32)
    for half, half_bits, out in zip(_halves(frame), (bits[:32], bits[32:]), _halves(residual), strict=True):
        marked = encoder.run(None, {"frame": _to_model([half]), "data": half_bits[None, :]})[0]  # type: ignore[attr-defined]
        marked_bgr = np.clip(marked[0, :, 0].transpose(1, 2, 0), -1.0, 1.0)
        out[...] = ((marked_bgr[..., ::-1] + 1.0) * 127.5 - half.astype(np.float32)) * STRENGTH
    original = np.asarray(rgb, dtype=np.float32)
    if residual.shape != original.shape:
        upsampling = residual.shape[0] < original.shape[0]
        residual = cv2.resize(residual, rgb.size, interpolation=cv2.INTER_CUBIC if upsampling else cv2.INTER_AREA)
    return Image.fromarray(np.clip(np.rint(original + residual), 0, 255).astype(np.uint8))


def payload_word(payload: int) -> np.ndarray:
    """The 64 bits embedded for `payload` (first 32 in the first half), for measurements."""
    return word_bits(_CODE.encode(payload))


@dataclass(frozen=True)
class WatermarkReading:
    """What the decoder saw: per attempt (a scale, as is or mirrored), 64 soft scores, > 0 meaning 1.

    Each half-frame's scores are divided by their median magnitude, so reliabilities compare
    across the 64 bits; the decision is `hit`. `planned` is how many attempts the image called
    for: the false-positive limit is split between all of them even when the reading stopped
    at the first hit.
    """

    scores: np.ndarray  # shape (attempts read, 64)
    mirrored: tuple[bool, ...]  # per attempt read
    planned: int

    def bits(self, attempt: int = 0) -> np.ndarray:
        return (self.scores[attempt] > 0).astype(np.uint8)

    def hit(self, max_false_positive: float = MAX_FALSE_POSITIVE) -> WatermarkHit | None:
        """The payload, when an unmarked image would decode this well with probability below
        `max_false_positive`, all planned attempts together (a Bonferroni split between them)."""
        best: WatermarkHit | None = None
        for scores, mirrored in zip(self.scores, self.mirrored, strict=True):
            decoded = soft_decode(_CODE, scores, max_false_positive=max_false_positive / self.planned)
            if decoded is None:
                continue
            hit = WatermarkHit(
                payload=decoded.payload,
                corrected_bits=decoded.flipped_bits,
                false_positive_bound=min(1.0, decoded.false_positive_bound * self.planned),
                mirrored=mirrored,
            )
            if best is None or hit.false_positive_bound < best.false_positive_bound:
                best = hit
        return best


def read_watermark(
    image: Image.Image, *, try_mirror: bool = True, stop_at_hit: bool = True, max_false_positive: float = MAX_FALSE_POSITIVE
) -> WatermarkReading | None:
    """Run the rivaGan decoder (whichever backend is configured: this is a measurement of the
    rivaGan mark) on `image` at each scale its mark may have been made at, as is and (with
    `try_mirror`) mirrored, one ~1 s pass per attempt, stopping at the first hit unless
    `stop_at_hit` is off; None when the image is too small to try."""
    _check_backend()
    return _read(image, try_mirror=try_mirror, stop_at_hit=stop_at_hit, max_false_positive=max_false_positive)


def detect_watermark(
    image: Image.Image, *, try_mirror: bool = True, max_false_positive: float = MAX_FALSE_POSITIVE
) -> WatermarkHit | None:
    """The watermark id carried by `image`, or None.

    A hit is reported only when an unmarked image would produce one this good with probability
    below `max_false_positive` (for all attempts together: each scale, as is and mirrored when
    `try_mirror`). Images too small to hold a readable mark give None without decoding.
    """
    if _check_backend() == TRUSTMARK:
        # Outputs made before the switch carry rivaGan marks: both are read, each with half the
        # false-positive budget.
        max_false_positive /= 2
        hit = _trustmark_hit(image, try_mirror=try_mirror, max_false_positive=max_false_positive)
        if hit is not None:
            return hit
    reading = _read(image, try_mirror=try_mirror, stop_at_hit=True, max_false_positive=max_false_positive)
    return reading.hit(max_false_positive) if reading is not None else None


def _trustmark_hit(image: Image.Image, *, try_mirror: bool, max_false_positive: float) -> WatermarkHit | None:
    from generation import watermark_trustmark

    rgb = _rgb(image)
    if rgb.width * rgb.height < _MIN_DETECT_AREA:
        return None
    attempts = (False, True) if try_mirror else (False,)
    for mirrored in attempts:
        scores = watermark_trustmark.logits(rgb, mirrored=mirrored)
        decoded = watermark_trustmark.decode(scores, max_false_positive=max_false_positive / len(attempts))
        if decoded is not None:
            return WatermarkHit(
                payload=decoded.payload,
                corrected_bits=decoded.flipped_bits,
                false_positive_bound=min(1.0, decoded.false_positive_bound * len(attempts)),
                mirrored=mirrored,
                backend=TRUSTMARK,
            )
    return None


def _read(
    image: Image.Image,
    *,
    try_mirror: bool,
    stop_at_hit: bool,
    max_false_positive: float = MAX_FALSE_POSITIVE,
    sizes: list[tuple[int, int]] | None = None,
) -> WatermarkReading | None:
    rgb = _rgb(image)
    if rgb.width * rgb.height < _MIN_DETECT_AREA:
        return None
    _, decoder = _models()
    # A flipped copy is rarer than a resized one: every scale as is first, then mirrored.
    sizes = sizes or _detection_sizes(*rgb.size)
    attempts = [(size, False) for size in sizes] + ([(size, True) for size in sizes] if try_mirror else [])
    words: list[np.ndarray] = []
    for done, (size, mirrored) in enumerate(attempts, start=1):
        frame = _frame(rgb, size)
        if mirrored:
            frame = np.ascontiguousarray(frame[:, ::-1])
        raw = decoder.run(None, {"frame": _to_model(list(_halves(frame)))})[0].astype(np.float64)  # type: ignore[attr-defined]
        words.append(np.concatenate([_normalised(raw[0]), _normalised(raw[1])]))
        reading = WatermarkReading(np.stack(words), tuple(m for _, m in attempts[:done]), planned=len(attempts))
        if stop_at_hit and done < len(attempts) and reading.hit(max_false_positive) is not None:
            break
    return reading


def _normalised(scores: np.ndarray) -> np.ndarray:
    # Each half-frame's decoder output has its own scale (texture, compression).
    scale = float(np.median(np.abs(scores)))
    return scores / scale if scale > 0 else np.zeros_like(scores)
