"""What every auditor receives and returns. An auditor is one module with one `Auditor` subclass
that has a `name`, a `version` and `audit(subject) -> list[FindingDraft]`; settings list which
are on (auditing/registry.py).

Auditors see a working copy of the stored image of at most WORKING_PIXELS pixels, whatever its
size: no detector gains from more (OCR reads at most 2500 px across, the near-duplicate stage
works at 512, the NSFW and face models at a few hundred), and every conversion an auditor makes
(RGB, float arrays, a mirror) then costs megabytes, not gigabytes. Positions an auditor reports
are in the working copy's pixels; `subject.scale` turns them into the stored image's.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, Any, ClassVar

from PIL import Image

from provenance.ingest.refusals import plain_error

WORKING_PIXELS = 2500 * 2500
# Shrink by whole factors first (reduce(): box averaging, no intermediate image), then resize
# what is left: a Lanczos pass over the full image would hold a third copy of its height.
_REDUCING_GAP = 1.0


class UnreadableImage(Exception):
    """The stored bytes no longer decode (the blob store was damaged under us)."""


def _target(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def _resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.mode == "1":
        image = image.convert("L")  # a byte per pixel either way; grey keeps thin strokes readable
    elif image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode.startswith("I;16"):  # reduce() cannot take 16-bit samples
        return image.resize(size, Image.Resampling.LANCZOS)
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)


def working_copy(stream: IO[bytes], max_pixels: int = WORKING_PIXELS) -> tuple[Image.Image, float]:
    """The image at most `max_pixels` big, and how many stored pixels one of its pixels spans
    across (1.0 when it fits). A JPEG is decoded at 1/2, 1/4 or 1/8 of its size straight away
    (DCT scaling); any other format is decoded once, then reduced, so the decoded image (within
    ingest's decoded-bytes budget) is the largest thing held. EXIF orientation carries over."""
    try:
        with warnings.catch_warnings():
            # Stored images passed ingest's pixel limit and decoded-bytes budget (which may be
            # set above Pillow's default warning threshold).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream)
        width, height = image.size
        if width * height <= max_pixels:
            image.load()
            return image, 1.0
        size = _target(width, height, max_pixels)
        if image.format == "JPEG":
            image.draft(image.mode, size)  # never below `size`
        image.load()
    except Exception as exc:
        raise UnreadableImage(f"the stored image cannot be decoded: {plain_error(exc)}") from None
    exif = image.getexif()
    working = _resized(image, size) if image.size != size else image
    if working is not image:
        image.close()
    if exif:
        working.info["exif"] = exif.tobytes()
    return working, width / working.width


@dataclass
class AuditSubject:
    asset_id: str
    sha256: str
    metadata: dict[str, Any]
    caption: str
    original_name: str
    # Opens the stored bytes (read only when an auditor asks for the image).
    open_file: Callable[[], IO[bytes]] = field(repr=False)

    @cached_property
    def _working(self) -> tuple[Image.Image, float]:
        with self.open_file() as handle:
            return working_copy(handle)

    @property
    def image(self) -> Image.Image:
        """The working copy: at most WORKING_PIXELS pixels, the stored image's proportions."""
        return self._working[0]

    @property
    def scale(self) -> float:
        """Stored-image pixels per working-copy pixel, along either side (1.0: the image itself)."""
        return self._working[1]


@dataclass(frozen=True)
class FindingDraft:
    code: str
    score: float
    details: dict[str, Any] = field(default_factory=dict)


class Auditor(ABC):
    """The base the registry checks a configured class against."""

    name: ClassVar[str]
    # A class attribute or a property: a change of version re-audits every asset.
    version: str

    @abstractmethod
    def audit(self, subject: AuditSubject) -> list[FindingDraft]: ...
