"""The `rivagan` watermark backend (the default), and `rivagan-v1`, which reads older outputs.

rivaGan's encoder/decoder models are the ONNX files shipped by `invisible-watermark` (MIT), run
by onnxruntime or torch (rivagan_engines.py: same weights, same marks). Each model call carries
32 bits; we mark the two halves of a working frame (split across its longer side) with the two
halves of one 64-bit word, which holds a 24-bit payload under an extended BCH code with a mask
derived from the algorithm's name (generation/watermark_payload.py explains the code and the
false-positive bound).

The working frame (TrustMark's approach): the image is resampled, aspect kept, to an area of
256² (v2; v1 used 512²), or more where that is needed for each half's short side to reach 128
pixels; the mark's residual is resampled back onto the full-size pixels. The models' cost is
then the same for a 512² or a 2048² output: one encoder pass to embed and one decoder pass to
read back, each over 65,536 pixels (bench/release.py measures the whole stage).
Detection decodes a copy at that working scale (which undoes a resize), as is and mirrored
(rivaGan does not survive a flip); the false-positive limit is split between the attempts.

v1 (`rivagan-v1`, "org.cleanroom.rivagan-bch.1") marked at 512², and images under 512² at their
own size; it is still read, after v2 (`also_reads`), so every output released before the switch
keeps its binding. A change of code, layout, mask or working scale must come with a new name.

Robustness (bench/soft_binding.py): JPEG q=75, a resize to 50% and a 10% crop of a 512² output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
from PIL import Image

from generation.watermark_payload import PayloadCode, soft_decode, word_bits
from generation.watermarks.base import (
    MAX_FALSE_POSITIVE,
    MIN_DETECT_AREA,
    MIN_EMBED_AREA,
    MIN_HALF_SIDE,
    WatermarkBackend,
    WatermarkHit,
    to_rgb,
)
from generation.watermarks.rivagan_engines import engine

NAME = "rivagan"
# Named in the C2PA soft-binding assertion; the payload mask is derived from it.
WATERMARK_ALGORITHM = "org.cleanroom.rivagan-bch.2"
LEGACY_NAME = "rivagan-v1"
LEGACY_ALGORITHM = "org.cleanroom.rivagan-bch.1"

# rivaGan's encoder moves nearly every pixel by ±2.04 grey levels (a saturated tanh); scaled by
# this it rounds to ±3: ~39 dB PSNR at the working scale, and on 8 photos 7 instead of 6 decode
# after JPEG q=75, 5 instead of 0 after q=50 (measured on v1).
STRENGTH = 1.5
# The residual (|r| ≤ 0.016 · 127.5 · STRENGTH ≈ 3.1 grey levels, plus a cubic resampling's
# overshoot) in 8-bit steps of 1/RESIDUAL_UNITS grey level around 128.
RESIDUAL_UNITS = 36


@dataclass(frozen=True)
class Layout:
    """Where and at which scale a version's mark is made and looked for."""

    name: str
    algorithm: str
    working_area: int
    # v1 marked an image smaller than its working area at the image's own size.
    small_at_own_size: bool

    @property
    def code(self) -> PayloadCode:
        return _CODES[self.algorithm]

    def working_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) resampled, aspect kept, to the working area, or larger where each half
        would otherwise be shorter than MIN_HALF_SIDE."""
        scale = (self.working_area / (width * height)) ** 0.5
        if not self.small_at_own_size:
            half_short = min(width / 2, height) if width >= height else min(width, height / 2)
            scale = max(scale, MIN_HALF_SIDE / half_short)
        return max(1, round(width * scale)), max(1, round(height * scale))

    def embedding_size(self, width: int, height: int) -> tuple[int, int]:
        # Never upsampled: marking an upscaled copy and bringing the residual back down loses most of it.
        size = self.working_size(width, height)
        return (width, height) if size[0] * size[1] >= width * height else size

    def detection_sizes(self, width: int, height: int) -> list[tuple[int, int]]:
        """Scales a copy's mark may have been made at: the working scale (a resized copy is
        resampled back to it) and, for v1, a small copy's own (a small output)."""
        sizes = [self.working_size(width, height)]
        if self.small_at_own_size and MIN_EMBED_AREA <= width * height < self.working_area:
            sizes.append((width, height))
        return sizes


_CODES = {algorithm: PayloadCode(algorithm) for algorithm in (WATERMARK_ALGORITHM, LEGACY_ALGORITHM)}
CURRENT = Layout(NAME, WATERMARK_ALGORITHM, working_area=256 * 256, small_at_own_size=False)
LEGACY = Layout(LEGACY_NAME, LEGACY_ALGORITHM, working_area=512 * 512, small_at_own_size=True)


class RivaGanWatermark(WatermarkBackend):
    name = NAME
    algorithm = WATERMARK_ALGORITHM
    also_reads: ClassVar[tuple[str, ...]] = (LEGACY_NAME,)
    layout = CURRENT

    def embed(self, rgb: Image.Image, payload: int) -> Image.Image:
        return embed_bits(rgb, payload_word(payload, self.layout), self.layout)

    def read_back(self, marked: Image.Image, *, max_false_positive: float = MAX_FALSE_POSITIVE) -> WatermarkHit | None:
        # One attempt, at the scale the mark was made, judged as strictly as a detection that
        # plans every attempt (as is and mirrored) would judge its first one.
        size = self.layout.embedding_size(*marked.size)
        reading = read(marked, try_mirror=False, stop_at_hit=False, sizes=[size], layout=self.layout)
        if reading is None:
            return None
        planned = 2 * len(self.layout.detection_sizes(*marked.size))
        return WatermarkReading(reading.scores, reading.mirrored, planned, self.layout).hit(max_false_positive)

    def detect(self, rgb: Image.Image, *, try_mirror: bool, max_false_positive: float) -> WatermarkHit | None:
        reading = read(rgb, try_mirror=try_mirror, stop_at_hit=True, max_false_positive=max_false_positive, layout=self.layout)
        return reading.hit(max_false_positive) if reading is not None else None


class RivaGanV1Watermark(RivaGanWatermark):
    """Outputs marked before the working scale moved to 256²: read (and, for tests, made)."""

    name = LEGACY_NAME
    algorithm = LEGACY_ALGORITHM
    also_reads = ()
    layout = LEGACY


def _halves(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two halves across the longer side, of equal shape (a middle line of an odd side is in neither)."""
    height, width = frame.shape[:2]
    if width >= height:
        return frame[:, : width // 2], frame[:, width - width // 2 :]
    return frame[: height // 2], frame[height - height // 2 :]


def _frame(rgb: Image.Image | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    array = np.asarray(rgb, dtype=np.uint8)
    if (array.shape[1], array.shape[0]) == size:
        return array
    shrinking = size[0] * size[1] < array.shape[0] * array.shape[1]
    return cv2.resize(array, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def embed_bits(rgb: Image.Image, word: np.ndarray, layout: Layout = CURRENT) -> Image.Image:
    """`rgb` carrying the 64 bits `word`, 32 per half of the working frame, at full size."""
    original = np.asarray(rgb, dtype=np.uint8)
    frame = _frame(original, layout.embedding_size(*rgb.size))
    residual = np.zeros(frame.shape, dtype=np.float32)
    halves = np.stack(_halves(frame))
    bits = np.asarray(word, dtype=np.float32).reshape(2, 32)
    marks = engine().residual(halves, bits) * STRENGTH
    for mark, out in zip(marks, _halves(residual), strict=True):
        out[...] = mark
    if residual.shape == original.shape:
        return Image.fromarray(np.clip(np.rint(original + residual), 0, 255).astype(np.uint8))
    # Resampled onto the full-size pixels as 8-bit (RESIDUAL_UNITS steps per grey level around
    # 128): OpenCV's 8-bit resize and weighted add are fixed-point SIMD, several times faster
    # than float32 at 1024² and above, and the mark moves by less than 1/30 of a grey level.
    encoded = np.clip(np.rint(residual * RESIDUAL_UNITS + 128), 0, 255).astype(np.uint8)
    resampled = cv2.resize(encoded, rgb.size, interpolation=cv2.INTER_CUBIC)
    marked = cv2.addWeighted(original, 1.0, resampled, 1 / RESIDUAL_UNITS, -128 / RESIDUAL_UNITS, dtype=cv2.CV_8U)
    return Image.fromarray(marked)


def payload_word(payload: int, layout: Layout = CURRENT) -> np.ndarray:
    """The 64 bits embedded for `payload` (first 32 in the first half), for measurements."""
    return word_bits(layout.code.encode(payload))


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
    layout: Layout = CURRENT

    def bits(self, attempt: int = 0) -> np.ndarray:
        return (self.scores[attempt] > 0).astype(np.uint8)

    def hit(self, max_false_positive: float = MAX_FALSE_POSITIVE) -> WatermarkHit | None:
        """The payload, when an unmarked image would decode this well with probability below
        `max_false_positive`, all planned attempts together (a Bonferroni split between them)."""
        best: WatermarkHit | None = None
        for scores, mirrored in zip(self.scores, self.mirrored, strict=True):
            decoded = soft_decode(self.layout.code, scores, max_false_positive=max_false_positive / self.planned)
            if decoded is None:
                continue
            hit = WatermarkHit(
                payload=decoded.payload,
                corrected_bits=decoded.flipped_bits,
                false_positive_bound=min(1.0, decoded.false_positive_bound * self.planned),
                mirrored=mirrored,
                backend=self.layout.name,
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
    layout: Layout = CURRENT,
) -> WatermarkReading | None:
    """The decoder's scores for `image` at each of `sizes` (by default each scale the layout's
    mark may have been made at), as is and, with `try_mirror`, mirrored; None for a thumbnail."""
    rgb = to_rgb(image)
    if rgb.width * rgb.height < MIN_DETECT_AREA:
        return None
    decoder = engine()
    # A flipped copy is rarer than a resized one: every scale as is first, then mirrored.
    sizes = sizes or layout.detection_sizes(*rgb.size)
    attempts = [(size, False) for size in sizes] + ([(size, True) for size in sizes] if try_mirror else [])
    words: list[np.ndarray] = []
    original = np.asarray(rgb, dtype=np.uint8)
    for done, (size, mirrored) in enumerate(attempts, start=1):
        frame = _frame(original, size)
        if mirrored:
            frame = np.ascontiguousarray(frame[:, ::-1])
        raw = decoder.scores(np.stack(_halves(frame)))
        words.append(np.concatenate([_normalised(raw[0]), _normalised(raw[1])]))
        reading = WatermarkReading(np.stack(words), tuple(m for _, m in attempts[:done]), len(attempts), layout)
        if stop_at_hit and done < len(attempts) and reading.hit(max_false_positive) is not None:
            break
    return reading


def _normalised(scores: np.ndarray) -> np.ndarray:
    # Each half-frame's decoder output has its own scale (texture, compression).
    scale = float(np.median(np.abs(scores)))
    return scores / scale if scale > 0 else np.zeros_like(scores)
