"""The `rivagan` watermark backend (the default).

The rivaGan encoder/decoder ONNX models shipped by `invisible-watermark` (MIT), run directly
with onnxruntime: the package's Python wrapper imports torch for two array reshapes, and its
`encode` truncates instead of rounding. Each model call carries 32 bits; we mark the two halves
of the image (split across its longer side) with the two halves of one 64-bit word, which holds
a 24-bit payload under an extended BCH code with a fixed mask (generation/watermark_payload.py
explains the code and the false-positive bound).

Scale: an image larger than WORKING_AREA pixels is marked on a copy resampled to that area
(aspect kept) and the mark's residual is resampled onto the full-size image, so embedding costs
the same for a 512² or a 2048² output; a smaller image (≥ MIN_EMBED_AREA) is marked at its own
size. Detection decodes the copy at the working scale (which undoes a resize) and, for a copy
smaller than that, also at its own size, each as is and mirrored (rivaGan does not survive a
flip); the false-positive limit is split between these attempts.

Robustness (bench/soft_binding.py): at 512² and above the mark survives JPEG q=75, a resize to
50% and a 10% crop; at 256² the halves are small and it survives a lossless re-save and JPEG
q=90 but not q=75 (the fingerprint covers those).

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

import numpy as np
from PIL import Image

from generation.watermark_payload import PayloadCode, soft_decode, word_bits
from generation.watermarks.base import (
    MAX_FALSE_POSITIVE,
    MIN_DETECT_AREA,
    MIN_EMBED_AREA,
    WORKING_AREA,
    WatermarkBackend,
    WatermarkHit,
    embedding_size,
    to_rgb,
    working_size,
)

NAME = "rivagan"
# Named in the C2PA soft-binding assertion. The payload mask is derived from it, so a change of
# code, layout or mask must come with a new name.
WATERMARK_ALGORITHM = "org.cleanroom.rivagan-bch.1"

# rivaGan's encoder moves nearly every pixel by ±2.04 grey levels (a saturated tanh); scaled by
# this it rounds to ±3: ~39 dB PSNR (38.8-39.2 on photos) instead of 42.6 (invisible-watermark's
# own wrapper, which truncates, measures ~40.7), and on 8 photos 7 instead of 6 decode after
# JPEG q=75, 5 instead of 0 after q=50.
STRENGTH = 1.5

_CODE = PayloadCode(WATERMARK_ALGORITHM)


class RivaGanWatermark(WatermarkBackend):
    name = NAME
    algorithm = WATERMARK_ALGORITHM

    def embed(self, rgb: Image.Image, payload: int) -> Image.Image:
        return _embed_bits(rgb, payload_word(payload))

    def read_back(self, marked: Image.Image) -> WatermarkHit | None:
        reading = read(marked, try_mirror=False, stop_at_hit=False, sizes=[embedding_size(*marked.size)])
        return reading.hit() if reading is not None else None

    def detect(self, rgb: Image.Image, *, try_mirror: bool, max_false_positive: float) -> WatermarkHit | None:
        reading = read(rgb, try_mirror=try_mirror, stop_at_hit=True, max_false_positive=max_false_positive)
        return reading.hit(max_false_positive) if reading is not None else None


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


def _detection_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """Scales a copy's mark may have been made at: the working scale (an output of any size
    that was resized, or a large one as is) and, for a small copy, its own (a small output)."""
    sizes = [working_size(width, height)]
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


def _frame(rgb: Image.Image, size: tuple[int, int]) -> np.ndarray:
    frame = rgb if rgb.size == size else rgb.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(frame, dtype=np.uint8)


def _embed_bits(rgb: Image.Image, word: np.ndarray) -> Image.Image:
    """`rgb` carrying the 64 bits `word`, 32 per half of the working frame, at full size."""
    import cv2

    encoder, _ = _models()
    frame = _frame(rgb, embedding_size(*rgb.size))
    bits = np.asarray(word, dtype=np.float32)
    residual: np.ndarray = np.zeros(frame.shape, dtype=np.float32)
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
                backend=NAME,
            )
            if best is None or hit.false_positive_bound < best.false_positive_bound:
                best = hit
        return best


def read(
    image: Image.Image,
    *,
    try_mirror: bool,
    stop_at_hit: bool,
    max_false_positive: float = MAX_FALSE_POSITIVE,
    sizes: list[tuple[int, int]] | None = None,
) -> WatermarkReading | None:
    """The decoder's scores for `image` at each of `sizes` (by default each scale its mark may
    have been made at), as is and, with `try_mirror`, mirrored; None for a thumbnail."""
    rgb = to_rgb(image)
    if rgb.width * rgb.height < MIN_DETECT_AREA:
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
