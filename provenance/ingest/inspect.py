"""Decide from its bytes alone what a file is, decode it fully, and hash it.

The extension is never trusted: formats are sniffed from content. Only the configured raster
formats are decoded; anything recognisably other (SVG, PDF, PostScript, HEIC, executables…) is
`unsupported_type`, anything unrecognisable or broken is `invalid_image`.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import imagehash
import scipy.fftpack  # noqa: F401 - imagehash.phash imports it on first use; load it with the module, not mid-batch
from PIL import Image, UnidentifiedImageError

from provenance.ingest.refusals import RefusalReason, Refused

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


def _recognise_other(data: bytes) -> str | None:
    head = data[:512]
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp" and head[8:12] in _ISO_BRANDS:
        return _ISO_BRANDS[head[8:12]]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(_MARKUP) or b"<svg" in head.lower():
        return "SVG/XML/HTML markup (an active format)"
    return None


def _identify_any(data: bytes) -> str | None:
    """Pillow's own name for formats it knows but we do not accept (header read only)."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            return probe.format
    except Exception:
        return None


def sniff_and_decode(data: bytes, limits: Limits) -> Image.Image:
    if not data:
        raise Refused(RefusalReason.INVALID_IMAGE, "empty file (0 bytes)")
    if len(data) > limits.max_file_bytes:
        raise Refused(RefusalReason.TOO_LARGE, f"{len(data)} bytes; the limit is {limits.max_file_bytes}")
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=limits.allowed_formats)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Refused(RefusalReason.TOO_LARGE, f"decompression bomb: {exc}") from None
        except UnidentifiedImageError:
            other = _recognise_other(data) or _identify_any(data)
            if other:
                raise Refused(
                    RefusalReason.UNSUPPORTED_TYPE,
                    f"content is {other}, not an accepted image format ({', '.join(limits.allowed_formats)})",
                ) from None
            raise Refused(RefusalReason.INVALID_IMAGE, "content is not a recognisable image") from None
        except Exception as exc:
            raise Refused(RefusalReason.INVALID_IMAGE, f"unreadable image header: {exc}") from None
        width, height = image.size
        if width * height > limits.max_image_pixels:
            raise Refused(
                RefusalReason.TOO_LARGE,
                f"{width}×{height} = {width * height} pixels; the limit is {limits.max_image_pixels} (decompression bomb guard)",
            )
        if width == 0 or height == 0:
            raise Refused(RefusalReason.INVALID_IMAGE, "image has no pixels")
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Refused(RefusalReason.TOO_LARGE, f"decompression bomb: {exc}") from None
        except Exception as exc:
            raise Refused(RefusalReason.INVALID_IMAGE, f"image data is truncated or corrupt: {exc}") from None
    return image


def inspect_image(data: bytes, limits: Limits, *, sha256: str | None = None) -> InspectedImage:
    image = sniff_and_decode(data, limits)
    try:
        # Both hashes start from the greyscale image; converting once gives the same values.
        grey = image if image.mode == "L" else image.convert("L")
        phash, dhash = str(imagehash.phash(grey)), str(imagehash.dhash(grey))
    except Exception as exc:
        raise Refused(RefusalReason.INVALID_IMAGE, f"cannot compute a perceptual hash: {exc}") from None
    return InspectedImage(
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        size=len(data),
        format=image.format or "",
        mime_type=Image.MIME.get(image.format or "", "application/octet-stream"),
        width=image.width,
        height=image.height,
        phash=phash,
        dhash=dhash,
        image=image,
    )
