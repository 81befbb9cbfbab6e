"""Finds rights holders' "do not train" signals: embedded in the file, or on our own list.

Embedded signals, checked in this order:

* C2PA / CAWG training-and-data-mining assertions (``cawg.training-mining``, the older
  ``c2pa.training-mining``, with or without a version suffix) in ANY manifest of the store,
  where ``ai_training`` or ``ai_generative_training`` is ``notAllowed`` or ``constrained``
  (we cannot honour constraints, so they count as an opt-out). A file signed with an
  opt-out is refused even when its manifest fails validation or cannot be read at all: then
  the raw bytes are scanned for the assertion's CBOR text.
* PLUS ``plus:DataMining`` (IPTC Photo Metadata "Data Mining") with a ``DMI-PROHIBITED...``
  value.
* W3C TDM-Rep ``tdm:reservation`` = 1.

Do-not-train list file format (UTF-8 text):

* one entry per line; blank lines and lines whose first non-blank character is ``#`` are
  ignored (a ``#`` later in a line is part of the entry, as URLs have fragments);
* a line of exactly 64 hexadecimal digits is the SHA-256 of a file (case-insensitive);
* any other line is a source URL, compared after normalisation: scheme and host lowercased,
  default port, fragment and trailing slash removed (path and query keep their case);
* an entry ending in ``*`` matches every source URL that starts with it (also normalised,
  but its trailing slash is kept, so ``https://example.com/photos/*`` does not match
  ``https://example.com/photos-2/``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from provenance.ingest.filebytes import ByteSource
from provenance.ingest.metadata import ExtractedMetadata

TRAINING_MINING_LABEL = re.compile(r"^(cawg|c2pa)\.training-mining(\.v\d+)?(__\d+)?$")
TRAINING_ENTRY = re.compile(r"^(cawg|c2pa)\.ai_(generative_)?training$")
REFUSING_USES = ("notAllowed", "constrained")
RAW_TRAINING_LABEL = b"training-mining"
RAW_TRAINING_ENTRIES = (b"ai_generative_training", b"ai_training")
# In CBOR an entry key is followed by {"use": "<value>"}: a dozen bytes. The next entry's key
# (any of these) ends the window so that its value is never attributed to this one.
RAW_VALUE_WINDOW = 48
RAW_NEXT_ENTRY_MARKERS = (b"ai_", b"data_mining", b"training-mining")

PLUS_DATA_MINING = "{http://ns.useplus.org/ldf/xmp/1.0/}DataMining"
TDM_NAMESPACES = ("http://www.w3.org/ns/tdmrep/", "http://www.w3.org/ns/tdmrep#")
SHA256_LINE = re.compile(r"^[0-9a-fA-F]{64}$")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class OptOutSignal:
    signal: str
    detail: str


def find_embedded_optout(metadata: ExtractedMetadata, data: ByteSource) -> OptOutSignal | None:
    return (
        _c2pa_optout(metadata.c2pa)
        or _raw_c2pa_optout(metadata.c2pa, data)
        or _plus_data_mining_optout(metadata.xmp)
        or _tdm_reservation_optout(metadata.xmp)
    )


# --- C2PA / CAWG -------------------------------------------------------------------------


def _c2pa_optout(store: dict | None) -> OptOutSignal | None:
    if not store or store.get("error"):
        return None
    found = [
        (label, entry, use, manifest_label)
        for manifest_label, manifest in _manifests_active_first(store)
        for label, entries in _training_mining_assertions(manifest)
        for entry, use in _refused_training_entries(entries)
    ]
    if not found:
        return None
    # A flat refusal outranks a constrained one: it is the clearer statement to report.
    label, entry, use, manifest_label = min(found, key=lambda item: REFUSING_USES.index(item[2]))
    return OptOutSignal(
        signal=_signal_for(label),
        detail=(
            f"C2PA assertion {label} says {entry}: {use}{_constrained_note(use)} "
            f"(manifest {manifest_label}; manifest validation: {store.get('validation_state') or 'unknown'})"
        ),
    )


def _manifests_active_first(store: dict) -> Iterator[tuple[str, dict]]:
    manifests = store.get("manifests") or {}
    active = store.get("active_manifest")
    ordered = sorted(manifests.items(), key=lambda item: item[0] != active)
    return ((label, manifest) for label, manifest in ordered if isinstance(manifest, dict))


def _training_mining_assertions(manifest: dict) -> Iterator[tuple[str, dict]]:
    assertions = manifest.get("assertions")
    for assertion in assertions if isinstance(assertions, list) else []:
        if not isinstance(assertion, dict):
            continue
        label = str(assertion.get("label", ""))
        data = assertion.get("data")
        if TRAINING_MINING_LABEL.match(label) and isinstance(data, dict):
            entries = data.get("entries")
            yield label, entries if isinstance(entries, dict) else {}


def _refused_training_entries(entries: dict) -> Iterator[tuple[str, str]]:
    for entry, permission in entries.items():
        use = permission.get("use") if isinstance(permission, dict) else None
        if TRAINING_ENTRY.match(str(entry)) and isinstance(use, str):
            canonical = next((value for value in REFUSING_USES if value.lower() == use.lower()), None)
            if canonical:
                yield str(entry), canonical


def _signal_for(label: str) -> str:
    return "c2pa.training-mining" if label.startswith("c2pa.") else "cawg.training-mining"


def _constrained_note(use: str) -> str:
    return " (constraints cannot be honoured, so this counts as an opt-out)" if use == "constrained" else ""


def _raw_c2pa_optout(store: dict | None, data: ByteSource) -> OptOutSignal | None:
    """The fallback for a manifest the SDK could not read, or read without the assertion."""
    label = _raw_training_mining_label(data)
    refusal = _raw_refusal(data) if label else None
    if label is None or refusal is None:
        return None
    entry, use = refusal
    return OptOutSignal(
        signal=_signal_for(label),
        detail=(
            f"C2PA assertion {label} says {entry}: {use}{_constrained_note(use)} "
            f"(found by a raw scan of the file's bytes; {_manifest_problem(store)})"
        ),
    )


def _raw_training_mining_label(data: ByteSource) -> str | None:
    # One pass over the bytes for both labels: this runs for every file, and files are large.
    start = data.find(RAW_TRAINING_LABEL)
    while start >= 0:
        prefix = data[max(0, start - 5) : start]
        if prefix in (b"cawg.", b"c2pa."):
            return (prefix + RAW_TRAINING_LABEL).decode()
        start = data.find(RAW_TRAINING_LABEL, start + 1)
    return None


def _raw_refusal(data: ByteSource) -> tuple[str, str] | None:
    for key in RAW_TRAINING_ENTRIES:
        start = data.find(key)
        while start >= 0:
            refused = _raw_value_after(data, start + len(key))
            if refused:
                return _raw_entry_name(data, start, key), refused
            start = data.find(key, start + 1)
    return None


def _raw_value_after(data: ByteSource, end_of_key: int) -> str | None:
    window = data[end_of_key : end_of_key + RAW_VALUE_WINDOW]
    cut = min((index for marker in RAW_NEXT_ENTRY_MARKERS if (index := window.find(marker)) >= 0), default=None)
    window = window[:cut]
    return next((use for use in REFUSING_USES if use.encode() in window), None)


def _raw_entry_name(data: ByteSource, start: int, key: bytes) -> str:
    prefix = data[max(0, start - 5) : start]
    return (prefix.decode() if prefix in (b"cawg.", b"c2pa.") else "") + key.decode()


def _manifest_problem(store: dict | None) -> str:
    if store is None:
        return "the manifest is unreadable: no manifest store could be found"
    if store.get("error"):
        return f"the manifest is unreadable: {store['error']}"
    return f"the SDK's reading of the manifest did not show it; manifest validation: {store.get('validation_state')}"


# --- XMP: PLUS and TDM-Rep ---------------------------------------------------------------


def _plus_data_mining_optout(xmp: dict) -> OptOutSignal | None:
    for value in xmp.get(PLUS_DATA_MINING, []):
        token = value.strip().rsplit("/", 1)[-1].upper()
        if token.startswith("DMI-PROHIBITED"):
            return OptOutSignal(
                signal="plus:DataMining",
                detail=f"XMP plus:DataMining is {value.strip()} (data mining prohibited by the rights holder)",
            )
    return None


def _tdm_reservation_optout(xmp: dict) -> OptOutSignal | None:
    for name, values in xmp.items():
        if _is_tdm_reservation(name) and any(value.strip() == "1" for value in values):
            policy = _tdm_policy(xmp)
            return OptOutSignal(
                signal="tdm-reservation",
                detail=f"XMP {name} is 1 (TDM-Rep: text and data mining rights reserved{policy})",
            )
    return None


def _is_tdm_reservation(name: str) -> bool:
    namespace, _, local_name = name.lstrip("{").rpartition("}")
    return (namespace in TDM_NAMESPACES and local_name == "reservation") or local_name == "tdm-reservation"


def _tdm_policy(xmp: dict) -> str:
    policies = [value for ns in TDM_NAMESPACES for value in xmp.get(f"{{{ns}}}policy", [])]
    return f"; policy: {policies[0]}" if policies else ""


# --- The do-not-train list ---------------------------------------------------------------


class DoNotTrainList:
    def __init__(self, sha256s: Iterable[str] = (), urls: Iterable[str] = (), url_prefixes: Iterable[str] = ()):
        self._sha256s = frozenset(sha256s)
        self._urls = frozenset(urls)
        self._url_prefixes = frozenset(url_prefixes)
        self._prefix_lengths = sorted({len(prefix) for prefix in self._url_prefixes})

    @classmethod
    def from_file(cls, path: str | os.PathLike | None) -> DoNotTrainList:
        if path is None or not Path(path).is_file():
            return cls()
        with open(path, encoding="utf-8-sig", errors="replace") as lines:
            return cls.from_lines(lines)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> DoNotTrainList:
        sha256s, urls, prefixes = set(), set(), set()
        for line in lines:
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            if SHA256_LINE.match(entry):
                sha256s.add(entry.lower())
            elif entry.endswith("*"):
                if prefix := normalise_url(entry.rstrip("*"), keep_trailing_slash=True):
                    prefixes.add(prefix)
            else:
                urls.add(normalise_url(entry))
        return cls(sha256s, urls, prefixes)

    def __len__(self) -> int:
        return len(self._sha256s) + len(self._urls) + len(self._url_prefixes)

    def match(self, *, sha256: str, source_url: str | None) -> OptOutSignal | None:
        if sha256.lower() in self._sha256s:
            return OptOutSignal("do-not-train:sha256", f"do-not-train list names sha256 {sha256.lower()}")
        if not source_url:
            return None
        url = normalise_url(source_url)
        if url in self._urls:
            return OptOutSignal("do-not-train:source-url", f"do-not-train list names source URL {url}")
        prefix = self._matching_prefix(url)
        if prefix is not None:
            return OptOutSignal("do-not-train:source-url", f"do-not-train list entry {prefix}* matches source URL {url}")
        return None

    def _matching_prefix(self, url: str) -> str | None:
        # One set lookup per distinct prefix length, not one comparison per entry.
        for candidate in (url, url + "/"):
            for length in self._prefix_lengths:
                if length <= len(candidate) and candidate[:length] in self._url_prefixes:
                    return candidate[:length]
        return None


def normalise_url(url: str, *, keep_trailing_slash: bool = False) -> str:
    try:
        parts = urlsplit(url.strip())
        host = _normalised_host(parts.scheme.lower(), parts.netloc)
    except ValueError:  # e.g. an invalid port or a bad IPv6 literal: compare it as written
        return url.strip()
    path = parts.path if keep_trailing_slash else parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), host, path, parts.query, ""))


def _normalised_host(scheme: str, netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
    if colon and port.isdigit() and DEFAULT_PORTS.get(scheme) == int(port):
        colon, port = "", ""
    return f"{userinfo}{at}{host.lower()}{colon}{port}"
