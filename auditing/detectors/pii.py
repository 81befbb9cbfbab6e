"""Personal data in an image's text, metadata, pixels and location: the detectors' public API.

A pure library (no models, no tasks): the PII auditor calls these and turns hits into findings.

- `find_pii_in_text(text, field=...)`: Presidio pattern recognizers (+ NER with a local model).
- `find_pii_in_metadata(metadata, caption, original_name)`: every text field a person's name,
  address or contact details usually hide in, plus the caption and the file name.
- `find_pii_in_pixels(image)`: Tesseract OCR, then the text detector, with word boxes.
- `find_gps(metadata)`: the coordinates the metadata reader already normalised.
- `find_faces(image)`: a face detector whose model ships in its wheel.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from auditing.detectors.faces import find_faces
from auditing.detectors.ocr import find_pii_in_pixels
from auditing.detectors.pii_hit import Box, PiiHit, mask
from auditing.detectors.pii_text import find_pii_in_text

__all__ = [
    "Box",
    "PiiHit",
    "find_faces",
    "find_gps",
    "find_pii_in_metadata",
    "find_pii_in_pixels",
    "find_pii_in_text",
    "location_hit",
    "mask",
]

_DC = "http://purl.org/dc/elements/1.1/"
_IPTC_CORE = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
_PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"

# Free-text fields where people write names, contact details and places. Technical fields
# (camera model, software, dates) are left out: they hold no personal data and only add noise.
EXIF_TEXT_FIELDS = ("ImageDescription", "Artist", "UserComment", "Copyright")
XMP_TEXT_FIELDS = {
    f"{{{_DC}}}description": "dc:description",
    f"{{{_DC}}}creator": "dc:creator",
    f"{{{_DC}}}title": "dc:title",
    f"{{{_DC}}}rights": "dc:rights",
    f"{{{_PHOTOSHOP}}}Credit": "photoshop:Credit",
    # IPTC Core's creator contact info is a structure; the XMP reader flattens its fields.
    f"{{{_IPTC_CORE}}}CiEmailWork": "Iptc4xmpCore:CiEmailWork",
    f"{{{_IPTC_CORE}}}CiTelWork": "Iptc4xmpCore:CiTelWork",
    f"{{{_IPTC_CORE}}}CiUrlWork": "Iptc4xmpCore:CiUrlWork",
    f"{{{_IPTC_CORE}}}CiAdrExtadr": "Iptc4xmpCore:CiAdrExtadr",
}
IPTC_TEXT_FIELDS = ("Caption-Abstract", "By-line", "Headline", "Writer-Editor", "Contact", "CopyrightNotice")
FILE_NAME_FIELD = "file_name"
CAPTION_FIELD = "caption"
GPS_ENTITY = "GPS_COORDINATES"

_FILE_NAME_SEPARATORS = re.compile(r"_")
_FILE_NAME_URL = re.compile(r"^(https?|www\.)", re.I)


def find_pii_in_metadata(
    metadata: dict[str, Any], caption: str, original_name: str, *, ner_model_dir: str | Path | None = None
) -> list[PiiHit]:
    """Hits in the metadata text fields (as `ExtractedMetadata.as_json()` has them), the caption
    and the original file name; each hit's `field` names its source, e.g. "exif:Artist"."""
    hits: list[PiiHit] = []
    for field, text in _text_fields(metadata):
        hits.extend(find_pii_in_text(text, field=field, ner_model_dir=ner_model_dir))
    if caption:
        hits.extend(find_pii_in_text(caption, field=CAPTION_FIELD, ner_model_dir=ner_model_dir))
    if original_name:
        hits.extend(_find_pii_in_file_name(original_name, ner_model_dir=ner_model_dir))
    return hits


def find_gps(metadata: dict[str, Any]) -> PiiHit | None:
    """The location the image was taken at, from EXIF or XMP GPS (normalised at ingest)."""
    gps = metadata.get("gps")
    if not isinstance(gps, dict):
        return None
    latitude, longitude = gps.get("latitude"), gps.get("longitude")
    if not isinstance(latitude, (int, float)) or not isinstance(longitude, (int, float)):
        return None
    source = str(gps.get("source") or "exif")
    details = {"latitude": float(latitude), "longitude": float(longitude), "altitude": gps.get("altitude"), "source": source}
    return location_hit(float(latitude), float(longitude), field=f"{source}:GPS", details=details)


def location_hit(latitude: float, longitude: float, *, field: str, details: dict[str, Any]) -> PiiHit:
    """Where the image was taken, as a hit; `details` says where it was read and how."""
    text = f"{latitude:.6f}, {longitude:.6f}"
    # Unmasked on purpose: the reviewer must see where the photo was taken to judge it (a home,
    # or a public landmark), and the rounded coordinates are already in the metadata.
    return PiiHit(entity_type=GPS_ENTITY, start=0, end=len(text), score=1.0, text=text, field=field, details=details)


def _text_fields(metadata: dict[str, Any]) -> Iterator[tuple[str, str]]:
    exif = metadata.get("exif") or {}
    for name in EXIF_TEXT_FIELDS:
        yield from _labelled(f"exif:{name}", exif.get(name))
    xmp = metadata.get("xmp") or {}
    for key, label in XMP_TEXT_FIELDS.items():
        yield from _labelled(f"xmp:{label}", xmp.get(key))
    iptc = metadata.get("iptc") or {}
    for name in IPTC_TEXT_FIELDS:
        yield from _labelled(f"iptc:{name}", iptc.get(name))


def _labelled(field: str, value: Any) -> Iterator[tuple[str, str]]:
    values: Iterable[Any] = value if isinstance(value, list) else [value]
    seen: set[str] = set()
    for item in values:
        # XMP language alternatives often repeat one text; analysing it twice doubles the hits.
        if isinstance(item, str) and item.strip() and item not in seen:
            seen.add(item)
            yield field, item


def _find_pii_in_file_name(original_name: str, *, ner_model_dir: str | Path | None) -> list[PiiHit]:
    name = PurePosixPath(original_name.replace("\\", "/")).name
    suffix = PurePosixPath(name).suffix
    # Blank the extension ("example.org.jpg" reads as a URL otherwise). Underscores separate
    # words in file names but are legal in email addresses, so the name is read with them as
    # spaces first ("IMG_212-555-0147_a@b.com" is a number and an address, not one address),
    # then as is for what that missed. Both keep every offset, so the two passes line up.
    stem = name[: len(name) - len(suffix)] + " " * len(suffix) if suffix and len(suffix) < len(name) else name
    hits: list[PiiHit] = []
    for text in (_FILE_NAME_SEPARATORS.sub(" ", stem), stem):
        for hit in find_pii_in_text(text, field=FILE_NAME_FIELD, ner_model_dir=ner_model_dir):
            if hit.entity_type == "URL" and not _FILE_NAME_URL.search(name[hit.start : hit.end]):
                continue  # "holiday.photo" is a valid domain, and a common file name
            if any(h.start < hit.end and hit.start < h.end for h in hits):
                continue
            hits.append(replace(hit, text=mask(hit.entity_type, name[hit.start : hit.end])))
    return sorted(hits, key=lambda hit: hit.start)
