"""Decide from its bytes alone what a file is, decode it fully, and hash it.

The extension is never trusted: formats are sniffed from content. Only the configured raster
formats are decoded; anything recognisably other (SVG, PDF, PostScript, HEIC, executables…) is
`unsupported_type`, anything unrecognisable or broken is `invalid_image`. An image is decoded
only once its header shows that it fits both the pixel limit and the decoded-bytes budget
(width × height × bands × bytes per sample): a few hundred kB of PNG can declare 400 MB of
pixels. The file is read from a seekable stream (or bytes) and never copied whole.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

import imagehash
import scipy.fftpack  # noqa: F401 - imagehash.phash imports it on first use; load it with the module, not mid-batch
from PIL import Image, UnidentifiedImageError

from provenance.ingest.refusals import RefusalReason, Refused, plain_error

# Recognisable non-raster or active formats, by their leading bytes.
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"#!", "a script"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"8BPS", "a Photoshop document"),
    (b"{\\rtf", "RTF"),
]
_ISO_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF", b"avis": "AVIF"}
_MARKUP = (b"<svg", b"<?xml", b"<!doctype svg", b"<!doctype html", b"<html", b"<script", b"<!--")


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_image_pixels: int
    allowed_formats: tuple[str, ...]
    max_decoded_bytes: int


@dataclass
class InspectedImage:
    sha256: str
    size: int
    format: str
    mime_type: str
    width: int
    height: int
    phash: str
    dhash: str
    image: Image.Image


ImageSource = bytes | BinaryIO | IO[bytes]
# imagehash's defaults: 8×8-bit hashes; pHash works on a square of 4× that side.
HASH_SIZE = 8
PHASH_SIDE = HASH_SIZE * 4
_HASH_CHUNK = 1024 * 1024
# Pillow's words for a decompression bomb, which name its own threshold (twice the limit for
# an error): only the pixel count is kept.
_PILLOW_PIXELS = re.compile(r"Image size \((\d+) pixels\)")


class _KeepOpen:
    """The caller's file as Pillow sees it: closing the image (which closes the file Pillow
    reads) leaves the file open for the metadata readers and the blob store."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def close(self) -> None:
        pass


def _stream_and_size(source: ImageSource) -> tuple[IO[bytes], int]:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(source), len(source)
    size = source.seek(0, os.SEEK_END)
    source.seek(0)
    return source, size


def bytes_per_sample(mode: str) -> int:
    if mode.startswith("I;16"):
        return 2
    if mode in ("I", "F") or mode.startswith("I;32"):
        return 4
    return 1  # 8-bit samples, and bilevel ("1"), which Pillow also keeps a byte per pixel


def decoded_size(mode: str, width: int, height: int) -> int:
    """Bytes the decoded pixels take: width × height × bands × bytes per sample."""
    return width * height * Image.getmodebands(mode) * bytes_per_sample(mode)


def _over_pixel_limit(limits: Limits, width: int | None = None, height: int | None = None, pixels: int | None = None) -> Refused:
    if width is not None and height is not None:
        what = f"{width}×{height} = {width * height} pixels"
    elif pixels is not None:
        what = f"{pixels} pixels"
    else:
        what = "more pixels than the limit"
    return Refused(RefusalReason.TOO_LARGE, f"{what}; the limit is {limits.max_image_pixels} pixels (decompression bomb guard)")


def _pillow_bomb(exc: Exception, limits: Limits) -> Refused:
    match = _PILLOW_PIXELS.search(str(exc))
    return _over_pixel_limit(limits, pixels=int(match.group(1)) if match else None)


def _over_decoded_budget(image: Image.Image, limits: Limits) -> Refused | None:
    width, height = image.size
    decoded = decoded_size(image.mode, width, height)
    if decoded <= limits.max_decoded_bytes:
        return None
    bands, sample = Image.getmodebands(image.mode), bytes_per_sample(image.mode)
    return Refused(
        RefusalReason.TOO_LARGE,
        f"{width}×{height} pixels of {bands} band{'s' if bands > 1 else ''} at {sample} byte{'s' if sample > 1 else ''} "
        f"per sample decode to {decoded} bytes; the limit is {limits.max_decoded_bytes} bytes",
    )


def _recognise_other(head: bytes) -> str | None:
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp" and head[8:12] in _ISO_BRANDS:
        return _ISO_BRANDS[head[8:12]]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(_MARKUP) or b"<svg" in head.lower():
        return "SVG/XML/HTML markup (an active format)"
    return None


def _identify_any(stream: IO[bytes]) -> str | None:
    """Pillow's own name for formats it knows but we do not accept (header read only)."""
    try:
        stream.seek(0)
        with Image.open(_KeepOpen(stream)) as probe:
            return probe.format
    except Exception:
        return None


def sniff_and_decode(source: ImageSource, limits: Limits) -> Image.Image:
    """The image decoded, or `Refused` with the reason in plain words. `source` is bytes or a
    seekable binary file, which stays open (and is never read whole into memory)."""
    stream, size = _stream_and_size(source)
    if not size:
        raise Refused(RefusalReason.INVALID_IMAGE, "empty file (0 bytes)")
    if size > limits.max_file_bytes:
        raise Refused(RefusalReason.TOO_LARGE, f"{size} bytes; the limit is {limits.max_file_bytes}")
    head = stream.read(512)
    stream.seek(0)
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(_KeepOpen(stream), formats=limits.allowed_formats)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _pillow_bomb(exc, limits) from None
        except UnidentifiedImageError:
            other = _recognise_other(head) or _identify_any(stream)
            if other:
                raise Refused(
                    RefusalReason.UNSUPPORTED_TYPE,
                    f"content is {other}, not an accepted image format ({', '.join(limits.allowed_formats)})",
                ) from None
            raise Refused(RefusalReason.INVALID_IMAGE, "content is not a recognisable image") from None
        except Exception as exc:
            raise Refused(RefusalReason.INVALID_IMAGE, f"unreadable image header: {plain_error(exc)}") from None
        width, height = image.size
        if width * height > limits.max_image_pixels:
            raise _over_pixel_limit(limits, width, height)
        if width == 0 or height == 0:
            raise Refused(RefusalReason.INVALID_IMAGE, "image has no pixels")
        over_budget = _over_decoded_budget(image, limits)
        if over_budget is not None:
            raise over_budget
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _pillow_bomb(exc, limits) from None
        except Exception as exc:
            raise Refused(RefusalReason.INVALID_IMAGE, f"image data is truncated or corrupt: {plain_error(exc)}") from None
    return image


def perceptual_hashes(image: Image.Image) -> tuple[str, str]:
    """imagehash's pHash and dHash. Each starts by converting the image to grey and resizing it
    (Lanczos) to its own small square, on a full-size grey copy: resized once here, the hashes
    are the same and a 100-megapixel image costs one grey copy, not three."""
    grey = image if image.mode == "L" else image.convert("L")
    for_phash = grey.resize((PHASH_SIDE, PHASH_SIDE), Image.Resampling.LANCZOS)
    for_dhash = grey.resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.LANCZOS)
    del grey
    return str(imagehash.phash(for_phash, hash_size=HASH_SIZE)), str(imagehash.dhash(for_dhash, hash_size=HASH_SIZE))


def _sha256(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(_HASH_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def inspect_image(source: ImageSource, limits: Limits, *, sha256: str | None = None) -> InspectedImage:
    stream, size = _stream_and_size(source)
    image = sniff_and_decode(stream, limits)
    try:
        phash, dhash = perceptual_hashes(image)
    except Exception as exc:
        raise Refused(RefusalReason.INVALID_IMAGE, f"cannot compute a perceptual hash: {plain_error(exc)}") from None
    return InspectedImage(
        sha256=sha256 or _sha256(stream),
        size=size,
        format=image.format or "",
        mime_type=Image.MIME.get(image.format or "", "application/octet-stream"),
        width=image.width,
        height=image.height,
        phash=phash,
        dhash=dhash,
        image=image,
    )
