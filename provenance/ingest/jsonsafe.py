"""Makes values read from hostile files storable: no NaN, no NUL characters, bounded sizes.

Shared by the metadata readers (EXIF, XMP, IPTC-IIM) and the C2PA reader so that what they
return can go into a PostgreSQL JSONField as is.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

MAX_TEXT_CHARS = 2000
MAX_LIST_ITEMS = 1000
MAX_JSON_DEPTH = 32


def json_safe(value: Any, *, max_chars: int | None = MAX_TEXT_CHARS, _depth: int = 0) -> Any:
    """A copy of `value` that json.dumps and PostgreSQL's jsonb both accept."""
    if _depth > MAX_JSON_DEPTH:
        return None
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, numbers.Real):
        number = float(value)  # IFDRational with a zero denominator becomes NaN here
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        return clean_text(value, max_chars)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return clean_text(_decode_bytes(bytes(value)), max_chars)
    if isinstance(value, dict):
        items = list(value.items())[:MAX_LIST_ITEMS] if max_chars is not None else value.items()
        return {clean_text(str(key), max_chars): json_safe(item, max_chars=max_chars, _depth=_depth + 1) for key, item in items}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)[:MAX_LIST_ITEMS] if max_chars is not None else list(value)
        return [json_safe(item, max_chars=max_chars, _depth=_depth + 1) for item in items]
    return clean_text(str(value), max_chars)


def clean_text(text: str, max_chars: int | None) -> str:
    # jsonb cannot store U+0000, and NULs pad many EXIF strings anyway.
    text = text.replace("\x00", "")
    return text if max_chars is None or len(text) <= max_chars else text[:max_chars]


_EXIF_CHARSET_HEADERS = (b"ASCII\x00\x00\x00", b"UNICODE\x00", b"\x00" * 8)
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _decode_bytes(raw: bytes) -> str:
    if raw[:8] in _EXIF_CHARSET_HEADERS:
        raw = raw[8:]
    raw = raw.rstrip(b"\x00")
    if _BINARY_BYTES.search(raw):
        return raw[: MAX_TEXT_CHARS // 2].hex()
    return raw.decode("utf-8", errors="replace")
