"""The files of a near-duplicate index: fingerprints at PATH, embeddings (if any) at PATH.emb.

Each file is written atomically (a temp file in the same folder, fsynced, renamed, the folder
fsynced). Two files cannot be replaced in one step: a reader that must know they belong
together compares their hashes with what it recorded (auditing/similarity/store.py does).
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from auditing.similarity.fingerprint import Fingerprint
from auditing.similarity.vectors import embeddings_path, read_embeddings, write_embeddings

INDEX_VERSION = 1
_MAGIC = b"CRNDIDX\0"
_FILE_HEADER = struct.Struct("<8sHQ")
_ENTRY_HEADER = struct.Struct("<HI")


def _write_atomically(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """A temp file in the same folder, fsynced, renamed over `target`, and the folder fsynced."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_index_files(
    path: Path,
    entries: Iterable[tuple[str, Fingerprint]],
    *,
    embedding_model: str = "",
    embeddings: Mapping[str, np.ndarray] | None = None,
    embedding_dim: int = 0,
) -> None:
    """Fingerprints to `path`; embeddings (None: none, and an old file is removed) beside it."""
    entries = list(entries)

    def write_fingerprints(out: BinaryIO) -> None:
        out.write(_FILE_HEADER.pack(_MAGIC, INDEX_VERSION, len(entries)))
        for key, fingerprint in entries:
            encoded_key, body = key.encode(), fingerprint.to_bytes()
            out.write(_ENTRY_HEADER.pack(len(encoded_key), len(body)))
            out.write(encoded_key)
            out.write(body)

    _write_atomically(path, write_fingerprints)
    if embeddings is None:
        embeddings_path(path).unlink(missing_ok=True)
    else:
        _write_atomically(embeddings_path(path), lambda out: write_embeddings(out, embedding_model, embeddings, embedding_dim))


def read_index_files(path: Path) -> tuple[list[tuple[str, Fingerprint]], str, dict[str, np.ndarray] | None]:
    """(entries, embedding model, embeddings or None) as `write_index_files` wrote them."""
    data = path.read_bytes()
    if len(data) < _FILE_HEADER.size:
        raise ValueError("not a near-duplicate index: too short")
    magic, version, count = _FILE_HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise ValueError("not a near-duplicate index: bad magic")
    if version != INDEX_VERSION:
        raise ValueError(f"index file version {version}, this code reads {INDEX_VERSION}: rebuild it")
    offset, items = _FILE_HEADER.size, []
    for _ in range(count):
        key_length, body_length = _ENTRY_HEADER.unpack_from(data, offset)
        offset += _ENTRY_HEADER.size
        key = data[offset : offset + key_length].decode()
        offset += key_length
        items.append((key, Fingerprint.from_bytes(data[offset : offset + body_length])))
        offset += body_length
    if offset != len(data):
        raise ValueError("near-duplicate index file has trailing bytes")
    if not embeddings_path(path).exists():
        return items, "", None
    model, embeddings = read_embeddings(embeddings_path(path))
    missing = set(embeddings) - {key for key, _ in items}
    if missing:
        raise ValueError(f"the embeddings file holds {len(missing)} keys the index does not: saved apart, rebuild it")
    return items, model, embeddings
