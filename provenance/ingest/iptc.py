"""Reads IPTC-IIM datasets (JPEG APP13 / Photoshop resource 0x0404, TIFF tag 33723) by name.

A truncated or corrupt block keeps what could be read before the damage; nothing here raises.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from provenance.ingest.jsonsafe import MAX_LIST_ITEMS, MAX_TEXT_CHARS, clean_text

TIFF_IPTC_TAG = 33723

IIM_DATASETS: dict[tuple[int, int], str] = {
    (2, 5): "ObjectName",
    (2, 7): "EditStatus",
    (2, 10): "Urgency",
    (2, 15): "Category",
    (2, 20): "SupplementalCategories",
    (2, 25): "Keywords",
    (2, 40): "SpecialInstructions",
    (2, 55): "DateCreated",
    (2, 60): "TimeCreated",
    (2, 80): "By-line",
    (2, 85): "By-lineTitle",
    (2, 90): "City",
    (2, 92): "Sub-location",
    (2, 95): "Province-State",
    (2, 100): "Country-PrimaryLocationCode",
    (2, 101): "Country-PrimaryLocationName",
    (2, 103): "OriginalTransmissionReference",
    (2, 105): "Headline",
    (2, 110): "Credit",
    (2, 115): "Source",
    (2, 116): "CopyrightNotice",
    (2, 118): "Contact",
    (2, 120): "Caption-Abstract",
    (2, 122): "Writer-Editor",
}
IIM_LIST_DATASETS = frozenset({"Keywords", "SupplementalCategories"})
IIM_CODED_CHARACTER_SET = (1, 90)
IIM_UTF8_MARKER = b"\x1b%G"


def read_iptc(image: Image.Image) -> dict[str, Any]:
    try:
        fields = parse_iim(_raw_iim(image))
    except Exception:
        return {}
    utf8 = fields.get(IIM_CODED_CHARACTER_SET, [b""])[0] == IIM_UTF8_MARKER
    result: dict[str, Any] = {}
    for key, values in fields.items():
        name = IIM_DATASETS.get(key)
        if name is None:
            continue
        texts = [_decode_iim_text(value, utf8) for value in values]
        result[name] = texts if name in IIM_LIST_DATASETS else "; ".join(texts)
    return result


def _raw_iim(image: Image.Image) -> bytes:
    photoshop = image.info.get("photoshop")
    if isinstance(photoshop, dict) and isinstance(photoshop.get(0x0404), bytes):
        return photoshop[0x0404]
    tiff_tags = getattr(image, "tag_v2", None)
    raw = tiff_tags.get(TIFF_IPTC_TAG) if tiff_tags is not None else None
    return raw if isinstance(raw, bytes) else b""


def parse_iim(raw: bytes) -> dict[tuple[int, int], list[bytes]]:
    """IIM datasets: 0x1C, record, dataset, 2-byte length (or an extended length), value."""
    fields: dict[tuple[int, int], list[bytes]] = {}
    position = 0
    while position + 5 <= len(raw) and raw[position] == 0x1C:
        key = (raw[position + 1], raw[position + 2])
        length = int.from_bytes(raw[position + 3 : position + 5], "big")
        position += 5
        if length & 0x8000:
            size = length & 0x7FFF
            if size > 4:
                break
            length = int.from_bytes(raw[position : position + size], "big")
            position += size
        values = fields.setdefault(key, [])
        if len(values) < MAX_LIST_ITEMS:
            values.append(raw[position : position + length])
        position += length
    return fields


def _decode_iim_text(value: bytes, utf8: bool) -> str:
    if utf8:
        return clean_text(value.decode("utf-8", errors="replace"), MAX_TEXT_CHARS)
    try:
        return clean_text(value.decode("utf-8"), MAX_TEXT_CHARS)
    except UnicodeDecodeError:  # files without the UTF-8 marker are often Latin-1
        return clean_text(value.decode("latin-1"), MAX_TEXT_CHARS)
