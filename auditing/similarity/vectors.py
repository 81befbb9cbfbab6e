"""Image embeddings of near-duplicate index entries: cosine search, and their file.

Vectors are stored L2-normalised (float32) under the entries' ids, so the inner product is the
cosine similarity: in an exact faiss `IndexFlatIP` up to `ann_threshold` vectors, and beyond it
in an inverted file (`IndexIVFFlat` on inner product: approximate, a query scans `nprobe` of
its lists instead of every vector; docs/scale.md has its recall and latency at 1,000,000). The
file sits beside the index's own (`embeddings_path`): a header naming the model that made the
vectors, the keys, the vectors; the inverted file is rebuilt from them on load.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import faiss
import numpy as np

EMBEDDINGS_VERSION = 1
_MAGIC = b"CRNDEMB\0"
_HEADER = struct.Struct("<8sHIQH")  # magic, version, dimension, count, model name length
_KEY_LENGTH = struct.Struct("<H")
DEFAULT_ANN_THRESHOLD = 50_000
# Lists scanned per query (of ~sqrt(n)): 32 gave recall@10 0.85 on clustered vectors at 100k
# (bench/scale_embeddings.py); 64 trades a few milliseconds for recall.
DEFAULT_NPROBE = 64
# k-means sees this many vectors per list: enough for stable centroids, and training stays
# well under a minute at 1M vectors on two cores instead of the minutes all of them would take.
_TRAINING_PER_LIST = 64


def embeddings_path(path: str | os.PathLike[str]) -> Path:
    """Where the vectors of the index saved at `path` are saved."""
    target = Path(path)
    return target.with_name(target.name + ".emb")


def unit_rows(vectors: np.ndarray | list[np.ndarray]) -> np.ndarray:
    rows = np.array(vectors, dtype=np.float32, ndmin=2, copy=True)
    faiss.normalize_L2(rows)
    return rows


class VectorIndex:
    """Unit vectors by entry id (int64): add, remove, read back, and search by cosine similarity.

    Exact up to `ann_threshold` vectors; the add that crosses it moves every vector into an
    inverted file with about sqrt(n) lists, searched `nprobe` lists at a time. Removing vectors
    later never moves them back: the inverted file stays correct, only approximate."""

    def __init__(self, *, ann_threshold: int = DEFAULT_ANN_THRESHOLD, nprobe: int = DEFAULT_NPROBE) -> None:
        if ann_threshold < 1 or nprobe < 1:
            raise ValueError("ann_threshold and nprobe must be at least 1")
        self._ann_threshold = ann_threshold
        self._nprobe = nprobe
        self._index: faiss.IndexIDMap2 | faiss.IndexIVFFlat | None = None
        self._ids: set[int] = set()

    @property
    def approximate(self) -> bool:
        """Whether searches go through the inverted file (True) or scan every vector."""
        return isinstance(self._index, faiss.IndexIVFFlat)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._ids

    @property
    def dim(self) -> int | None:
        return None if self._index is None else int(self._index.d)

    def checked(self, vectors: list[np.ndarray]) -> np.ndarray:
        """Unit rows of `vectors`, refused unless they all have this index's dimension."""
        rows = [np.asarray(vector, dtype=np.float32).ravel() for vector in vectors]
        dimensions = {len(row) for row in rows} | ({self.dim} if self.dim is not None else set())
        if len(dimensions) > 1:
            raise ValueError(f"embeddings of different dimensions {sorted(dimensions)} in one index")
        return unit_rows(np.stack(rows))

    def add(self, ids: np.ndarray, rows: np.ndarray) -> None:
        """Add checked unit `rows` (see `checked`) under `ids`."""
        if self._index is None:
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(rows.shape[1]))
        self._index.add_with_ids(rows, ids)
        self._ids.update(ids.tolist())
        if not self.approximate and len(self._ids) > self._ann_threshold:
            self._index = self._inverted_file(*self.all())

    def _inverted_file(self, ids: np.ndarray, rows: np.ndarray) -> faiss.IndexIVFFlat:
        lists = max(1, round(math.sqrt(len(ids))))
        quantizer = faiss.IndexFlatIP(rows.shape[1])
        index = faiss.IndexIVFFlat(quantizer, rows.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
        # A fixed seed: the same vectors give the same lists, so results do not vary between loads.
        sample = np.random.default_rng(0).permutation(len(rows))[: lists * _TRAINING_PER_LIST]
        index.cp.seed = 0
        index.train(rows[np.sort(sample)])
        # Hashtable: ids are arbitrary int64s, and `get` reconstructs by id.
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        index.add_with_ids(rows, ids)
        index.nprobe = self._nprobe
        return index

    def remove(self, ids: list[int]) -> None:
        held = [entry_id for entry_id in ids if entry_id in self._ids]
        if held and self._index is not None:  # ids are only ever held once the index exists
            # faiss's Python wrapper takes an id array here; its SWIG signature names only IDSelector.
            self._index.remove_ids(np.array(held, dtype=np.int64))  # type: ignore[arg-type]
            self._ids.difference_update(held)

    def get(self, entry_id: int) -> np.ndarray:
        if self._index is None:
            raise KeyError(entry_id)
        # faiss's Python wrapper returns an ndarray; the type mypy reads from its SWIG module is wrong.
        return self._index.reconstruct(entry_id)  # type: ignore[return-value]

    def all(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors), read in bulk."""
        if self._index is None or not self._ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.dim or 0), dtype=np.float32)
        if isinstance(self._index, faiss.IndexIVFFlat):
            ids = np.array(sorted(self._ids), dtype=np.int64)
            return ids, self._index.reconstruct_batch(ids)
        return faiss.vector_to_array(self._index.id_map), self._index.index.reconstruct_n(0, self._index.ntotal)

    def query_row(self, vector: np.ndarray) -> np.ndarray:
        query = unit_rows(np.asarray(vector, dtype=np.float32).ravel())
        if self.dim is not None and query.shape[1] != self.dim:
            raise ValueError(f"a query embedding of dimension {query.shape[1]} against an index of dimension {self.dim}")
        return query

    def search(self, query: np.ndarray, k: int, min_similarity: float) -> dict[int, float]:
        """Entry id → similarity of the `k` nearest to the unit row `query` at `min_similarity` or more."""
        if self._index is None or not self._ids:
            return {}
        similarities, ids = self._index.search(query, min(k, len(self._ids)))
        return {
            int(entry_id): float(similarity)
            for similarity, entry_id in zip(similarities[0], ids[0], strict=True)
            if entry_id >= 0 and similarity >= min_similarity
        }


def write_embeddings(out: BinaryIO, model: str, vectors: Mapping[str, np.ndarray], dim: int) -> None:
    encoded_model = model.encode()
    out.write(_HEADER.pack(_MAGIC, EMBEDDINGS_VERSION, dim, len(vectors), len(encoded_model)))
    out.write(encoded_model)
    for key in vectors:
        encoded = key.encode()
        out.write(_KEY_LENGTH.pack(len(encoded)))
        out.write(encoded)
    if vectors:
        out.write(np.ascontiguousarray(np.stack(list(vectors.values())), dtype="<f4").tobytes())


def read_embeddings(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """(the model that made them, vectors by key) from a file `write_embeddings` wrote."""
    data = path.read_bytes()
    if len(data) < _HEADER.size:
        raise ValueError("not an embeddings file: too short")
    magic, version, dimension, count, model_length = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise ValueError("not an embeddings file: bad magic")
    if version != EMBEDDINGS_VERSION:
        raise ValueError(f"embeddings file version {version}, this code reads {EMBEDDINGS_VERSION}: rebuild it")
    offset = _HEADER.size
    model = data[offset : offset + model_length].decode()
    offset += model_length
    keys = []
    for _ in range(count):
        (length,) = _KEY_LENGTH.unpack_from(data, offset)
        offset += _KEY_LENGTH.size
        keys.append(data[offset : offset + length].decode())
        offset += length
    if len(data) - offset != count * dimension * 4:
        raise ValueError("embeddings file is truncated or has trailing bytes")
    vectors = np.frombuffer(data, dtype="<f4", count=count * dimension, offset=offset).reshape(count, dimension)
    return model, dict(zip(keys, vectors.astype(np.float32), strict=True))
