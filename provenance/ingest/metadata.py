"""Reads the metadata an image carries: EXIF (with GPS), XMP, IPTC-IIM and C2PA.

Every byte of an uploaded file is treated as hostile: nothing here raises on corrupt EXIF,
malformed or oversized XMP, XML entity bombs or broken C2PA manifests; each reader returns
what it could read and the others carry on. The result is JSON-safe (no NaN, no NUL
characters, bounded strings and lists) so it can be stored in a PostgreSQL JSONField as is.

EXIF, GPS and the digital source type are read here; XMP in `provenance.ingest.xmp`,
IPTC-IIM in `provenance.ingest.iptc` and C2PA (never over the network) in
`provenance.c2pa.reader`.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from PIL import ExifTags, Image

from provenance.c2pa.reader import read_c2pa
from provenance.ingest.filebytes import ByteSource
from provenance.ingest.iptc import TIFF_IPTC_TAG, read_iptc
from provenance.ingest.jsonsafe import MAX_LIST_ITEMS, json_safe
from provenance.ingest.xmp import (
    TIFF_XMP_TAG,
    XMP_DIGITAL_SOURCE_TYPE,
    XMP_EXIF_NS,
    XMP_PROVENANCE,
    first_value,
    parse_xmp,
    raw_xmp_packet,
)

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
INTEROP_IFD = 0xA005
# Pointers, blobs that other readers handle, and vendor binary (MakerNote can be megabytes).
SKIPPED_EXIF_TAGS = frozenset({0x927C, TIFF_XMP_TAG, TIFF_IPTC_TAG, 34377, 34675, EXIF_IFD, GPS_IFD, INTEROP_IFD})


@dataclass(frozen=True)
class ExtractedMetadata:
    exif: dict
    gps: dict | None
    xmp: dict
    iptc: dict
    c2pa: dict | None
    digital_source_type: str | None

    def as_json(self) -> dict:
        return json_safe(asdict(self), max_chars=None)


def extract_metadata(
    image: Image.Image, data: ByteSource, *, mime_type: str, trust_anchors_pem: str | None = None
) -> ExtractedMetadata:
    """Reads everything; `data` is the file's bytes, or a FileBytes view of a file too large to
    hold; `trust_anchors_pem` (PEM roots) lets a C2PA signer read as "Trusted"."""
    exif, gps_ifd = _read_exif(image)
    xmp = parse_xmp(raw_xmp_packet(image, data, mime_type))
    manifest_store = read_c2pa(data, mime_type, trust_anchors_pem=trust_anchors_pem, remote_reference=XMP_PROVENANCE in xmp)
    return ExtractedMetadata(
        exif=exif,
        gps=_gps_from_exif(gps_ifd) or _gps_from_xmp(xmp),
        xmp=xmp,
        iptc=read_iptc(image),
        c2pa=manifest_store,
        digital_source_type=_digital_source_type(manifest_store, xmp),
    )


# --- EXIF and GPS ------------------------------------------------------------------------


def _read_exif(image: Image.Image) -> tuple[dict, dict]:
    """Returns (JSON-safe tags by name, the raw GPS IFD keyed by tag number)."""
    try:
        exif = image.getexif()
        tags = dict(exif.items())
    except Exception:
        return {}, {}
    result = _named_tags(tags, ExifTags.TAGS)
    result.update(_named_tags(_read_ifd(exif, EXIF_IFD), ExifTags.TAGS))
    gps_ifd = _read_ifd(exif, GPS_IFD)
    if gps_ifd:
        result["GPSInfo"] = _named_tags(gps_ifd, ExifTags.GPSTAGS)
    return result, gps_ifd


def _read_ifd(exif: Image.Exif, ifd: int) -> dict:
    try:
        return dict(exif.get_ifd(ifd))
    except Exception:
        return {}


def _named_tags(tags: dict, names: dict[int, str]) -> dict[str, Any]:
    return {
        names.get(tag, f"0x{tag:04X}"): json_safe(value)
        for tag, value in list(tags.items())[:MAX_LIST_ITEMS]
        if isinstance(tag, int) and tag not in SKIPPED_EXIF_TAGS
    }


def _gps_from_exif(gps_ifd: dict) -> dict | None:
    latitude = _signed_degrees(_dms_degrees(gps_ifd.get(2)), gps_ifd.get(1), limit=90)
    longitude = _signed_degrees(_dms_degrees(gps_ifd.get(4)), gps_ifd.get(3), limit=180)
    if latitude is None or longitude is None:
        return None
    altitude = _finite(gps_ifd.get(6))
    if altitude is not None and _text(gps_ifd.get(5)) in ("\x01", "1"):
        altitude = -altitude
    return {"latitude": latitude, "longitude": longitude, "altitude": altitude, "source": "exif"}


def _dms_degrees(parts: Any) -> float | None:
    if not isinstance(parts, (tuple, list)):
        parts = (parts,)
    values = [_finite(part) for part in parts[:3]]
    if not values or any(value is None for value in values):
        return None
    return sum(value / 60**index for index, value in enumerate(values))


def _signed_degrees(degrees: float | None, reference: Any, *, limit: float) -> float | None:
    if degrees is None:
        return None
    if _text(reference).strip().upper()[:1] in ("S", "W"):
        degrees = -abs(degrees)
    return degrees if abs(degrees) <= limit else None


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "" if value is None else str(value)


_XMP_COORDINATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)(?:\s*,\s*(\d+(?:\.\d+)?))?\s*([NSEW])\s*$", re.I)


def _gps_from_xmp(xmp: dict) -> dict | None:
    latitude = _xmp_coordinate(first_value(xmp, f"{{{XMP_EXIF_NS}}}GPSLatitude"), limit=90)
    longitude = _xmp_coordinate(first_value(xmp, f"{{{XMP_EXIF_NS}}}GPSLongitude"), limit=180)
    if latitude is None or longitude is None:
        return None
    altitude = _xmp_rational(first_value(xmp, f"{{{XMP_EXIF_NS}}}GPSAltitude"))
    if altitude is not None and first_value(xmp, f"{{{XMP_EXIF_NS}}}GPSAltitudeRef") == "1":
        altitude = -altitude
    return {"latitude": latitude, "longitude": longitude, "altitude": altitude, "source": "xmp"}


def _xmp_coordinate(value: str | None, *, limit: float) -> float | None:
    """XMP writes "DDD,MM,SSk" or "DDD,MM.mmk" (k is N, S, E or W)."""
    match = _XMP_COORDINATE.match(value or "")
    if not match:
        return None
    degrees, minutes, seconds, reference = match.groups()
    parts = (degrees, minutes) if seconds is None else (degrees, minutes, seconds)
    return _signed_degrees(_dms_degrees(tuple(float(part) for part in parts)), reference, limit=limit)


def _xmp_rational(value: str | None) -> float | None:
    numerator, _, denominator = (value or "").partition("/")
    number = _finite(numerator)
    if number is None or not denominator:
        return number
    divisor = _finite(denominator)
    return number / divisor if divisor else None


# --- Digital source type -----------------------------------------------------------------


def _digital_source_type(manifest_store: dict | None, xmp: dict) -> str | None:
    return _digital_source_type_from_c2pa(manifest_store) or first_value(xmp, XMP_DIGITAL_SOURCE_TYPE)


def _digital_source_type_from_c2pa(manifest_store: dict | None) -> str | None:
    if not manifest_store:
        return None
    manifest = manifest_store["manifests"].get(manifest_store.get("active_manifest") or "")
    assertions = manifest.get("assertions") if isinstance(manifest, dict) else None
    for assertion in assertions if isinstance(assertions, list) else []:
        if not isinstance(assertion, dict) or not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        data = assertion.get("data")
        actions = data.get("actions") if isinstance(data, dict) else None
        for action in actions if isinstance(actions, list) else []:
            source_type = action.get("digitalSourceType") if isinstance(action, dict) else None
            if isinstance(source_type, str) and source_type:
                return source_type
    return None
