"""What a watermark backend is (the class CLEANROOM_WATERMARK['BACKEND'] names), what it reports,
and the rules every backend shares: which images can carry a mark and the false-positive limit."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from PIL import Image, ImageOps

from generation.watermark_payload import CODE_BITS

# The chance that one unmarked image is reported as marked, all detection attempts together.
MAX_FALSE_POSITIVE = 1e-9

WORKING_AREA = 512 * 512
# Smaller images are refused. At 256² each half is 128×256 (rivaGan's own wrapper wants 256² per
# call): the mark survives a lossless re-save and JPEG q=90 there, not q=75. Marking a small
# image on an upscaled copy was worse (the residual does not survive being scaled back down).
# Every backend applies the same rule, so a switch of backend never changes which outputs carry
# a mark.
MIN_EMBED_AREA = 256 * 256
# Each half of the working frame is at least this many pixels on its short side.
MIN_HALF_SIDE = 128
# A copy smaller than this (a thumbnail) is not worth the decoder's second.
MIN_DETECT_AREA = 128 * 128


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
    backend: str = "rivagan"  # the name of the backend whose mark this is

    @property
    def agreement(self) -> float:
        return 1.0 - self.corrected_bits / CODE_BITS

    @property
    def confidence(self) -> float:
        return 1.0 - self.false_positive_bound


class WatermarkBackend(ABC):
    """Marks an RGB image with a watermark id and finds it again. Built with no arguments on each
    call of the public functions (generation/watermark.py): models are cached per process by
    the backend module, never on the instance."""

    name: ClassVar[str]
    # Named in the C2PA soft-binding assertion.
    algorithm: ClassVar[str]
    # Backends whose marks are still read once this one is configured (outputs made before the switch).
    also_reads: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def embed(self, rgb: Image.Image, payload: int) -> Image.Image:
        """`rgb` (RGB, already checked by `check_applicable`) carrying `payload`, same size."""

    @abstractmethod
    def detect(self, rgb: Image.Image, *, try_mirror: bool, max_false_positive: float) -> WatermarkHit | None:
        """The mark in `rgb` (RGB), when an unmarked image would decode this well with probability
        below `max_false_positive`, all attempts together (as is, and mirrored with `try_mirror`)."""

    def read_back(self, marked: Image.Image, *, max_false_positive: float = MAX_FALSE_POSITIVE) -> WatermarkHit | None:
        """The embedding's own check: the mark just made, read as it was made and judged as
        strictly as `detect` with `max_false_positive` judges it (every attempt planned)."""
        return self.detect(marked, try_mirror=True, max_false_positive=max_false_positive)


def to_rgb(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image) or image
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def working_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) scaled, aspect kept, to an area of WORKING_AREA pixels."""
    scale = (WORKING_AREA / (width * height)) ** 0.5
    return max(1, round(width * scale)), max(1, round(height * scale))


def embedding_size(width: int, height: int) -> tuple[int, int]:
    # The shape rule every backend applies (check_applicable): large images are marked at a
    # working scale, smaller ones at their own. Each backend then chooses its own working scale.
    return (width, height) if width * height <= WORKING_AREA else working_size(width, height)


def check_applicable(width: int, height: int) -> None:
    """Raises WatermarkNotApplicable for an image too small or too elongated to carry a mark."""
    if width * height < MIN_EMBED_AREA:
        raise WatermarkNotApplicable(
            f"{width}×{height} is too small for the watermark (needs at least {MIN_EMBED_AREA:,} pixels)"
        )
    w, h = embedding_size(width, height)
    half_short = min(w // 2, h) if w >= h else min(w, h // 2)
    if half_short < MIN_HALF_SIDE:
        raise WatermarkNotApplicable(f"{width}×{height} is too elongated for the watermark")
