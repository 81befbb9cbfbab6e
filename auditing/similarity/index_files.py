"""The files of a near-duplicate index: fingerprints at PATH, embeddings (if any) at PATH.emb,
and above the approximate threshold their trained inverted file at PATH.emb.ann.

Each file is written atomically (a temp file in the same folder, fsynced, renamed, the folder
fsynced). Two files cannot be replaced in one step: a reader that must know they belong
together compares their hashes with what it recorded (auditing/similarity/store.py does).
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from auditing.similarity.fingerprint import Fingerprint
from auditing.similarity.vectors import ann_path, embeddings_path, read_embeddings, write_embeddings

logger = logging.getLogger(__name__)

INDEX_VERSION = 1
_MAGIC = b"CRNDIDX\0"
_FILE_HEADER = struct.Struct("<8sHQ")
_ENTRY_HEADER = struct.Struct("<HI")


def write_atomically(target: Path, write: Callable[[BinaryIO], None]) -> None:
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
    inverted_file: Callable[[BinaryIO, bytes], None] | None = None,
) -> None:
    """Fingerprints to `path`; embeddings (None: none, and an old file is removed) beside it;
    then `inverted_file(out, sha256 of the embeddings file)` writes the trained approximate index
    (None: the index is exact, and an old file is removed)."""
    entries = list(entries)

    def write_fingerprints(out: BinaryIO) -> None:
        out.write(_FILE_HEADER.pack(_MAGIC, INDEX_VERSION, len(entries)))
        for key, fingerprint in entries:
            encoded_key, body = key.encode(), fingerprint.to_bytes()
            out.write(_ENTRY_HEADER.pack(len(encoded_key), len(body)))
            out.write(encoded_key)
            out.write(body)

    write_atomically(path, write_fingerprints)
    if embeddings is None:
        embeddings_path(path).unlink(missing_ok=True)
    else:
        write_atomically(embeddings_path(path), lambda out: write_embeddings(out, embedding_model, embeddings, embedding_dim))
    if embeddings is None or inverted_file is None:
        ann_path(path).unlink(missing_ok=True)
    else:
        with embeddings_path(path).open("rb") as written:
            vectors_sha256 = hashlib.file_digest(written, "sha256").digest()
        write_inverted_file(path, inverted_file, vectors_sha256)


def write_inverted_file(path: Path, write: Callable[[BinaryIO, bytes], None], vectors_sha256: bytes) -> bool:
    """The trained inverted file beside the index at `path`; False (logged) where it cannot be
    written: it only saves the next start a training, so a read-only folder is no error."""
    try:
        write_atomically(ann_path(path), lambda out: write(out, vectors_sha256))
    except OSError as exc:
        logger.warning("could not save the inverted file beside %s (%s): the next load trains it again", path, exc)
        return False
    return True


def read_index_files(path: Path) -> tuple[list[tuple[str, Fingerprint]], str, dict[str, np.ndarray] | None, bytes]:
    """(entries, embedding model, embeddings or None, sha256 of the embeddings file or b"") as
    `write_index_files` wrote them."""
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
        return items, "", None, b""
    model, embeddings, vectors_sha256 = read_embeddings(embeddings_path(path))
    missing = set(embeddings) - {key for key, _ in items}
    if missing:
        raise ValueError(f"the embeddings file holds {len(missing)} keys the index does not: saved apart, rebuild it")
    return items, model, embeddings, vectors_sha256
