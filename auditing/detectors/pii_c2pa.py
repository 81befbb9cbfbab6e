"""Personal data inside embedded Content Credentials (a C2PA manifest store).

Cameras and capture apps that sign C2PA often put the location only in the manifest: a
`stds.exif` or `c2pa.metadata` assertion with `exif:GPSLatitude`/`exif:GPSLongitude`, while the
file's own EXIF has none. Identity assertions (`cawg.identity`, the older
`stds.schema-org.CreativeWork` author entries) name people and their contact details. The
metadata detectors read EXIF and XMP only, so this module reads every assertion of every
manifest in the store (the active one first, then the ingredients' manifests), and each
manifest's ingredient entries, the same way:

- a coordinate pair anywhere in an assertion (`GPSLatitude`/`GPSLongitude` in any namespace,
  schema.org `latitude`/`longitude`) is a location hit, like `find_gps`'s;
- every other string is given to the text detector, except machine values (hashes, JUMBF
  references, vocabulary links, identifiers) and EXIF's technical tags, which hold no personal
  data and only add noise.

Each hit's `field` is `c2pa:<manifest label>/<assertion label>`; its details name the manifest,
the assertion and the JSON path of the value, so a reviewer knows exactly what to strip.
The store is `provenance.c2pa.reader.read_c2pa`'s JSON (as ingest stores it under "c2pa"). A
pure library: no models, no tasks; a hostile store yields fewer hits, never an exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from auditing.detectors.pii import location_hit
from auditing.detectors.pii_hit import PiiHit
from auditing.detectors.pii_text import find_pii_in_text

FIELD_PREFIX = "c2pa:"
SOURCE = "c2pa"
# A hostile store can hold thousands of assertions; past these the rest is not read.
MAX_STRINGS = 1000
MAX_TEXT_CHARS = 2000
MAX_DEPTH = 32

# Keys whose values are machine data: hashes, JUMBF references, JSON-LD plumbing, identifiers,
# vocabulary terms, validation reports. Their strings are never a person's.
_MACHINE_KEYS = frozenset(
    {
        "@context",
        "@id",
        "@type",
        "action",
        "active_manifest",
        "alg",
        "code",
        "digitalSourceType",
        "documentID",
        "document_id",
        "explanation",
        "format",
        "hash",
        "identifier",
        "instanceID",
        "instance_id",
        "label",
        "manifest_data",
        "pad",
        "pad1",
        "pad2",
        "referenced_assertions",
        "relationship",
        "sig_type",
        "signature",
        "thumbnail",
        "type",
        "url",
        "validationDeltas",
        "validationStatus",
        "validation_results",
        "validation_status",
    }
)
# EXIF/TIFF tags that are free text (where a name or contact hides); every other EXIF tag is
# technical (exposure, dates, GPS) and is not read as text. Namespaces are ignored.
_EXIF_TEXT_TAGS = frozenset({"Artist", "Copyright", "ImageDescription", "UserComment", "CameraOwnerName", "OwnerName"})
_EXIF_NAMESPACES = ("exif", "exifEX", "tiff", "aux")
_LATITUDE_KEYS = ("GPSLatitude", "latitude")
_LONGITUDE_KEYS = ("GPSLongitude", "longitude")
# Links into the manifest store itself, the vocabularies C2PA and CAWG assertions cite, and their
# dotted terms ("cawg.social_media", "c2pa.hash.data": .media and .data are real top-level domains).
_MACHINE_URL = re.compile(
    r"^((c2pa|cawg|stds)\.|self#jumbf=|https?://(cv\.iptc\.org|c2pa\.org|schema\.org|ns\.adobe\.com|www\.w3\.org|cawg\.io|"
    r"creator-assertions\.github\.io|contentauthenticity\.org|purl\.org)/)",
    re.I,
)
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:/\d+(?:\.\d*)?)?"
_COORDINATE = re.compile(
    rf"^\s*([NSEW])?\s*({_NUMBER})\s*[°d]?\s*(?:[,\s]\s*({_NUMBER})\s*['′m]?\s*"
    rf"(?:[,\s]\s*({_NUMBER})\s*(?:\"|″|''|s)?\s*)?)?([NSEW])?\s*$",
    re.I,
)


@dataclass(frozen=True)
class _Place:
    """Where a value sits in the store: its manifest, its assertion and its JSON path."""

    manifest: str
    assertion: str
    path: str

    @property
    def field(self) -> str:
        return f"{FIELD_PREFIX}{self.manifest}/{self.assertion}"

    def details(self) -> dict[str, str]:
        return {"source": SOURCE, "manifest": self.manifest, "assertion": self.assertion, "path": self.path}

    def child(self, step: str | int) -> _Place:
        path = f"{self.path}[{step}]" if isinstance(step, int) else f"{self.path}.{step}"
        return replace(self, path=path)


def find_pii_in_c2pa(store: Any, *, ner_model_dir: str | Path | None = None) -> list[PiiHit]:
    """Location and text hits in every assertion of every manifest of `store`."""
    hits: list[PiiHit] = []
    budget = MAX_STRINGS
    for place, data in _assertions(store):
        hits.extend(_locations(data, place))
        for text_place, text in _texts(data, place):
            if budget <= 0:
                return hits
            budget -= 1
            for hit in find_pii_in_text(text[:MAX_TEXT_CHARS], field=text_place.field, ner_model_dir=ner_model_dir):
                if hit.entity_type == "URL" and _MACHINE_URL.match(text[hit.start : hit.end]):
                    continue
                hits.append(replace(hit, details={**hit.details, **text_place.details()}))
    return hits


def find_gps_in_c2pa(store: Any) -> list[PiiHit]:
    """Only the location hits (no text analysis): every coordinate pair in the store."""
    return [hit for place, data in _assertions(store) for hit in _locations(data, place)]


def parse_coordinate(value: Any, reference: Any = None, *, limit: float) -> float | None:
    """Signed decimal degrees from what C2PA writers put in a GPS tag, or None.

    Accepted: a number; a list of one to three numbers or "a/b" rationals (EXIF's degrees,
    minutes, seconds); a string in decimal ("-33.8688", "33.8688 S"), XMP's "DDD,MM.mmk" and
    "DDD,MM,SSk", or "33° 52' 7.7\" S". `reference` (N, S, E, W) is the separate GPS…Ref tag.
    Minutes and seconds of 60 or more, out-of-range degrees and anything else are refused.
    """
    parts: list[Any]
    own_reference = None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        parts = [value]
    elif isinstance(value, list) and 1 <= len(value) <= 3:
        parts = value
    elif isinstance(value, str):
        match = _COORDINATE.match(value)
        if not match or (match.group(1) and match.group(5)):
            return None
        own_reference = match.group(1) or match.group(5)
        parts = [part for part in match.group(2, 3, 4) if part is not None]
    else:
        return None
    numbers = [_number(part) for part in parts]
    values = [number for number in numbers if number is not None]
    if len(values) != len(numbers):
        return None
    degrees, *rest = values
    if any(not 0 <= number < 60 for number in rest) or (rest and degrees < 0):
        return None
    total = degrees + sum(number / 60 ** (index + 1) for index, number in enumerate(rest))
    letter = str(own_reference or (reference if isinstance(reference, str) else "") or "").strip().upper()[:1]
    if letter in ("S", "W"):
        total = -abs(total)
    elif letter in ("N", "E"):
        total = abs(total)
    elif letter:
        return None
    return total if abs(total) <= limit else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        numerator, _, denominator = value.strip().partition("/")
        try:
            number = float(numerator) / float(denominator) if denominator else float(numerator)
        except (ValueError, ZeroDivisionError, OverflowError):
            return None
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


# --- Walking the store -------------------------------------------------------------------


def _assertions(store: Any) -> Iterator[tuple[_Place, Any]]:
    """(place, data) of every assertion, the active manifest's first."""
    if not isinstance(store, dict):
        return
    manifests = store.get("manifests")
    if not isinstance(manifests, dict):
        return
    active = store.get("active_manifest")
    labels = sorted(manifests, key=lambda label: label != active)
    for manifest_label in labels:
        manifest = manifests[manifest_label]
        assertions = manifest.get("assertions") if isinstance(manifest, dict) else None
        for assertion in assertions if isinstance(assertions, list) else []:
            if not isinstance(assertion, dict) or not isinstance(assertion.get("label"), str):
                continue
            yield _Place(str(manifest_label), assertion["label"], "$"), assertion.get("data")
        # The reader lists the ingredient assertions apart, decoded (title, format, metadata…);
        # an ingredient's own manifest, if it has one, is another entry of `manifests`.
        ingredients = manifest.get("ingredients") if isinstance(manifest, dict) else None
        for ingredient in ingredients if isinstance(ingredients, list) else []:
            if isinstance(ingredient, dict):
                label = ingredient.get("label")
                yield _Place(str(manifest_label), label if isinstance(label, str) else "c2pa.ingredient", "$"), ingredient


def _local_name(key: str) -> tuple[str, str]:
    namespace, _, name = key.rpartition(":")
    return namespace, name


def _entries(data: dict) -> dict[str, tuple[str, Any]]:
    """The dict's entries by local name ("exif:GPSLatitude" → "GPSLatitude"), first one kept."""
    entries: dict[str, tuple[str, Any]] = {}
    for key, value in data.items():
        if isinstance(key, str):
            entries.setdefault(_local_name(key)[1], (key, value))
    return entries


def _locations(data: Any, place: _Place, depth: int = 0) -> Iterator[PiiHit]:
    if depth > MAX_DEPTH:
        return
    if isinstance(data, list):
        for index, item in enumerate(data):
            yield from _locations(item, place.child(index), depth + 1)
        return
    if not isinstance(data, dict):
        return
    hit = _location_hit(_entries(data), place)
    if hit is not None:
        yield hit
    for key, value in data.items():
        if isinstance(value, (dict, list)) and key not in _MACHINE_KEYS:
            yield from _locations(value, place.child(str(key)), depth + 1)


def _location_hit(entries: dict[str, tuple[str, Any]], place: _Place) -> PiiHit | None:
    for latitude_key, longitude_key in zip(_LATITUDE_KEYS, _LONGITUDE_KEYS, strict=True):
        if latitude_key not in entries or longitude_key not in entries:
            continue
        latitude = parse_coordinate(entries[latitude_key][1], _value(entries, f"{latitude_key}Ref"), limit=90)
        longitude = parse_coordinate(entries[longitude_key][1], _value(entries, f"{longitude_key}Ref"), limit=180)
        if latitude is None or longitude is None:
            continue
        details = {
            "latitude": latitude,
            "longitude": longitude,
            "altitude": _altitude(entries),
            **place.details(),
            "keys": [entries[latitude_key][0], entries[longitude_key][0]],
        }
        return location_hit(latitude, longitude, field=place.field, details=details)
    return None


def _value(entries: dict[str, tuple[str, Any]], name: str) -> Any:
    return entries.get(name, (name, None))[1]


def _altitude(entries: dict[str, tuple[str, Any]]) -> float | None:
    altitude = _number(_value(entries, "GPSAltitude"))
    if altitude is None:
        altitude = _number(_value(entries, "elevation"))
    if altitude is not None and str(_value(entries, "GPSAltitudeRef")).strip() == "1":
        altitude = -altitude
    return altitude


def _texts(data: Any, place: _Place, depth: int = 0) -> Iterator[tuple[_Place, str]]:
    """Every string worth reading as text, with its place."""
    if depth > MAX_DEPTH:
        return
    if isinstance(data, str):
        if data.strip():
            yield place, data
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _texts(item, place.child(index), depth + 1)
    elif isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and not _is_machine_or_technical(key):
                yield from _texts(value, place.child(key), depth + 1)


def _is_machine_or_technical(key: str) -> bool:
    namespace, name = _local_name(key)
    if key in _MACHINE_KEYS or name in _MACHINE_KEYS or name in _LATITUDE_KEYS or name in _LONGITUDE_KEYS:
        return True
    return namespace in _EXIF_NAMESPACES and name not in _EXIF_TEXT_TAGS
