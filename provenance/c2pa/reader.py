"""Reads C2PA manifest stores with c2pa-python, without ever touching the network.

Remote manifests and OCSP are off and the allowed network host list is empty. A broken
manifest is reported in the result's "error", never raised. The result is JSON-safe.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

import c2pa

from provenance.ingest.filebytes import ByteSource, as_stream
from provenance.ingest.jsonsafe import MAX_TEXT_CHARS, clean_text, json_safe

READING_SETTINGS: dict[str, Any] = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    "core": {"allowed_network_hosts": []},
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_c2pa(
    data: ByteSource, mime_type: str, *, trust_anchors_pem: str | None = None, remote_reference: bool = False
) -> dict | None:
    """The manifest store as a JSON-safe dict, None when the file has none."""
    if not (remote_reference or may_contain_c2pa(data)):
        return None
    try:
        context = _reading_context(trust_anchors_pem, os.getpid())
        reader = c2pa.Reader.try_create(mime_type, as_stream(data), None, context)
        if reader is None:
            return None
        with reader:
            return json_safe(_summarise_store(json.loads(reader.json())), max_chars=None)
    except Exception as error:
        return _unreadable_store(str(error) or type(error).__name__)


@lru_cache(maxsize=8)
def _reading_context(trust_anchors_pem: str | None, process_id: int) -> c2pa.Context:
    # Keyed by process id: a Context made before a fork is unusable in the child.
    settings = dict(READING_SETTINGS)
    if trust_anchors_pem:
        settings["trust"] = {"user_anchors": trust_anchors_pem}
    return c2pa.Context.from_dict(settings)


def _unreadable_store(message: str) -> dict:
    return {
        "validation_state": None,
        "active_manifest": None,
        "manifests": {},
        "validation_status": [],
        "validation_results": {},
        "error": clean_text(message, MAX_TEXT_CHARS),
    }


def _summarise_store(store: Any) -> dict:
    if not isinstance(store, dict):
        return _unreadable_store("the manifest store is not a JSON object")
    manifests = store.get("manifests")
    return {
        "validation_state": store.get("validation_state"),
        "active_manifest": store.get("active_manifest"),
        "manifests": manifests if isinstance(manifests, dict) else {},
        "validation_status": _failure_codes(store),
        "validation_results": store.get("validation_results") or {},
        "error": None,
    }


def _failure_codes(store: dict) -> list[str]:
    results = store.get("validation_results")
    entries: list[Any] = list(store.get("validation_status") or [])
    if isinstance(results, dict):
        entries += (results.get("activeManifest") or {}).get("failure") or []
        for delta in results.get("ingredientDeltas") or []:
            entries += ((delta or {}).get("validationDeltas") or {}).get("failure") or []
    codes = [entry.get("code") for entry in entries if isinstance(entry, dict)]
    return list(dict.fromkeys(code for code in codes if isinstance(code, str)))


# --- Pre-check ---------------------------------------------------------------------------


def may_contain_c2pa(data: ByteSource) -> bool:
    """Cheap pre-check: walks the container's segments instead of scanning every byte."""
    try:
        if data.startswith(b"\xff\xd8"):
            return _jpeg_has_app11(data)
        if data.startswith(PNG_SIGNATURE):
            return _png_has_chunk(data, b"caBX")
        if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
            return _riff_has_chunk(data, b"C2PA")
    except ValueError:  # the structure is broken: fall back to scanning
        pass
    return b"c2pa" in data


def _jpeg_has_app11(data: ByteSource) -> bool:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError("not at a JPEG marker")
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:
            position += 2
        elif marker in (0xDA, 0xD9):  # C2PA's APP11 segments all come before the first scan
            return False
        elif marker == 0xEB:
            return True
        else:
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return False


def _png_has_chunk(data: ByteSource, chunk_type: bytes) -> bool:
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        current = data[position + 4 : position + 8]
        if current == chunk_type:
            return True
        if current == b"IEND":
            return False
        position += 12 + int.from_bytes(data[position : position + 4], "big")
    return False


def _riff_has_chunk(data: ByteSource, chunk_type: bytes) -> bool:
    position = 12
    while position + 8 <= len(data):
        if data[position : position + 4] == chunk_type:
            return True
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        position += 8 + size + (size & 1)
    return False
