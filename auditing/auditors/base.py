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
# The full-size image is shrunk a strip of about this many pixels at a time, so that a
# conversion the shrinking needs (RGBA is averaged premultiplied, a palette expanded to RGB)
# copies a strip, never the whole image.
_STRIP_PIXELS = 4 * 1024 * 1024


class UnreadableImage(Exception):
    """The stored bytes no longer decode (the blob store was damaged under us)."""


def _target(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def _reducible(image: Image.Image) -> Image.Image:
    """The image in a mode reduce() and a Lanczos resize take."""
    if image.mode == "1":
        return image.convert("L")  # a byte per pixel either way; grey keeps thin strokes readable
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode.startswith("I;16"):
        return image.convert("I")
    return image


def _reduced_in_strips(image: Image.Image, factor: int) -> Image.Image:
    """reduce(factor) (box averages of factor × factor pixels), one strip of rows at a time."""
    width, height = image.size
    rows = max(factor, (_STRIP_PIXELS // width) // factor * factor)
    strips = (_reducible(image.crop((0, top, width, min(height, top + rows)))).reduce(factor) for top in range(0, height, rows))
    first = next(strips)
    reduced = Image.new(first.mode, (-(-width // factor), -(-height // factor)))
    reduced.paste(first, (0, 0))
    for index, strip in enumerate(strips, start=1):
        reduced.paste(strip, (0, index * rows // factor))
    return reduced


def working_copy(stream: IO[bytes], max_pixels: int = WORKING_PIXELS) -> tuple[Image.Image, float]:
    """The image at most `max_pixels` big, and how many stored pixels one of its pixels spans
    across (1.0 when it fits). A JPEG is decoded at 1/2, 1/4 or 1/8 of its size straight away
    (DCT scaling); any other format is decoded once (within ingest's decoded-bytes budget), then
    shrunk by a whole factor strip by strip and resized (Lanczos) to size, so the decoded image
    is the one large thing held. EXIF orientation carries over."""
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
    factor = min(image.width // size[0], image.height // size[1])
    working = _reduced_in_strips(image, factor) if factor >= 2 else _reducible(image)
    if working.width * working.height > max_pixels:
        working = working.resize(size, Image.Resampling.LANCZOS)
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
