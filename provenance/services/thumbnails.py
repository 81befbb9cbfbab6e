"""Thumbnails: small WebP copies of an asset's image for the review pages, derived once by a
worker and kept beside the blobs under the image's digest (core.storage's derived files).

Only a worker decodes: the web process asks whether a thumbnail exists, serves it, or queues
its derivation and serves the original meanwhile (`thumbnail_label`, `thumbnails_request`).
A thumbnail is the image as a viewer sees it (EXIF orientation applied), its longest side at
most the size asked and never enlarged, re-encoded with no metadata: a GIF/JS polyglot or a
photo's GPS tags do not survive the trip.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterable
from typing import IO

from django.db import transaction
from PIL import Image, ImageOps

from core.storage import blob_open, derived_exists, derived_put
from provenance.models import Asset

logger = logging.getLogger(__name__)

THUMBNAIL_SIZES = (256, 1024)
# Part of every thumbnail's name: bump it when the derivation changes, and every thumbnail is
# derived again on its next request.
THUMBNAIL_VERSION = 1
_WEBP_QUALITY = 82


def thumbnail_label(size: int) -> str:
    if size not in THUMBNAIL_SIZES:
        raise ValueError(f"no thumbnail of {size} px is made; sizes are {THUMBNAIL_SIZES}")
    return f"thumbnail-{size}-v{THUMBNAIL_VERSION}.webp"


def thumbnail_exists(*, sha256: str, size: int) -> bool:
    return derived_exists(sha256, thumbnail_label(size))


def thumbnails_request(*, asset_ids: Iterable[str]) -> None:
    """Queue the derivation of the assets' thumbnails (one message), after the current
    transaction commits. Idempotent: a thumbnail already there is not made again."""
    ids = [str(asset_id) for asset_id in asset_ids]
    if not ids:
        return

    def send() -> None:
        from provenance.tasks import derive_thumbnails

        try:
            derive_thumbnails.delay(ids)
        except Exception:  # a broker down must not fail an ingest or a page: the view asks again
            logger.exception("could not queue thumbnails for %d asset(s)", len(ids))

    transaction.on_commit(send)


def thumbnails_derive(*, asset_id: str) -> list[int]:
    """Make the asset's missing thumbnails from its stored bytes (one decode for all sizes);
    returns the sizes made. An asset gone, erased or undecodable gets none."""
    asset = Asset.objects.filter(pk=asset_id).only("sha256").first()
    if asset is None:
        return []
    missing = [size for size in THUMBNAIL_SIZES if not thumbnail_exists(sha256=asset.sha256, size=size)]
    if not missing:
        return []
    try:
        with blob_open(asset.sha256) as stream:
            thumbnails = thumbnails_of(stream, sizes=missing)
    except FileNotFoundError:
        return []  # erased meanwhile
    except Exception:
        logger.exception("asset %s: its image could not be made into thumbnails", asset_id)
        return []
    for size, data in thumbnails.items():
        derived_put(asset.sha256, thumbnail_label(size), data)
    return sorted(thumbnails)


def thumbnails_of(stream: IO[bytes], *, sizes: Iterable[int]) -> dict[int, bytes]:
    """WebP bytes per size, from an image stream: oriented, shrunk (never enlarged), no metadata."""
    with warnings.catch_warnings():
        # Stored images passed ingest's pixel limit and decoded-bytes budget.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(stream) as opened:
            largest = max(sizes)
            # A JPEG decodes at 1/2, 1/4 or 1/8 of its size where that still covers the largest.
            opened.draft("RGB", (largest, largest))
            image = ImageOps.exif_transpose(opened) or opened
            image = _displayable(image)
    made = {}
    for size in sorted(sizes, reverse=True):
        image = image.copy() if image.width <= size and image.height <= size else _shrunk(image, size)
        made[size] = _webp(image)
    return made


def _shrunk(image: Image.Image, size: int) -> Image.Image:
    shrunk = image.copy()
    shrunk.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return shrunk


def _displayable(image: Image.Image) -> Image.Image:
    """The pixels in a mode WebP takes, as a viewer shows them (alpha kept, 16-bit scaled)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = image.convert("I")
        top = float(grey.getextrema()[1]) or 1.0  # type: ignore[arg-type]  # one band: (low, high)
        return grey.point(lambda value: value * (255 / top)).convert("L").convert("RGB")
    return image.convert("RGB")


def _webp(image: Image.Image) -> bytes:
    image.info.clear()  # no EXIF, XMP or ICC text rides along
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=_WEBP_QUALITY, method=4, exif=b"", xmp=b"", icc_profile=None)
    return buffer.getvalue()
