"""Image embeddings of near-duplicate index entries: cosine search, and their file.

Vectors are stored L2-normalised (float32) under the entries' ids, so the inner product is the
cosine similarity: in an exact faiss `IndexFlatIP` up to `ann_threshold` vectors, and beyond it
in an inverted file (`IndexIVFFlat` on inner product: approximate, a query scans `nprobe` of
its lists instead of every vector; docs/scale.md has its recall and latency at 1,000,000). The
file sits beside the index's own (`embeddings_path`): a header naming the model that made the
vectors, the keys, the vectors. The trained inverted file is saved beside them (`ann_path`,
written by faiss after a header naming the sha256 of the vectors file it was built from), so
a worker start loads it instead of training it again; a missing, stale or unreadable one is
rebuilt from the vectors.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import faiss
import numpy as np

logger = logging.getLogger(__name__)

EMBEDDINGS_VERSION = 1
# Bump when `_inverted_file` builds differently (lists, training): older saved files are rebuilt.
ANN_VERSION = 1
_ANN_MAGIC = b"CRNDANN\0"
_ANN_HEADER = struct.Struct("<8sHIQ32s")  # magic, version, dimension, count, sha256 of the vectors file
_MAGIC = b"CRNDEMB\0"
_HEADER = struct.Struct("<8sHIQH")  # magic, version, dimension, count, model name length
_KEY_LENGTH = struct.Struct("<H")
DEFAULT_ANN_THRESHOLD = 50_000
# Lists per sqrt(n) and lists scanned per query. At 1,000,000 clustered vectors
# (bench/scale_embeddings.py, docs/scale.md) sqrt(n) lists reached recall@10 0.968 only at
# nprobe 32; 2·sqrt(n) lists reached 1.000 at nprobe 16 (p50 1 ms) and 0.979 at nprobe 1:
# fewer groups share a list, so a query's own list ranks first. nprobe 32 keeps a margin for
# real embeddings, which are less well separated, at p50 ≈ 2 ms.
_LISTS_PER_SQRT_N = 2
DEFAULT_NPROBE = 32
# k-means sees this many vectors per list: enough for stable centroids, and training 2,000 lists
# at 1M vectors takes about a minute on two cores instead of the many minutes all would take.
_TRAINING_PER_LIST = 64


def embeddings_path(path: str | os.PathLike[str]) -> Path:
    """Where the vectors of the index saved at `path` are saved."""
    target = Path(path)
    return target.with_name(target.name + ".emb")


def ann_path(path: str | os.PathLike[str]) -> Path:
    """Where the trained inverted file of the index saved at `path` is saved."""
    target = embeddings_path(path)
    return target.with_name(target.name + ".ann")


def unit_rows(vectors: np.ndarray | list[np.ndarray]) -> np.ndarray:
    rows = np.array(vectors, dtype=np.float32, ndmin=2, copy=True)
    faiss.normalize_L2(rows)
    return rows


class VectorIndex:
    """Unit vectors by entry id (int64): add, remove, read back, and search by cosine similarity.

    Exact up to `ann_threshold` vectors; the add that crosses it moves every vector into an
    inverted file with about 2·sqrt(n) lists, searched `nprobe` lists at a time. Removing vectors
    later never moves them back: the inverted file stays correct, only approximate."""

    def __init__(self, *, ann_threshold: int = DEFAULT_ANN_THRESHOLD, nprobe: int = DEFAULT_NPROBE) -> None:
        if ann_threshold < 1 or nprobe < 1:
            raise ValueError("ann_threshold and nprobe must be at least 1")
        self._ann_threshold = ann_threshold
        self._nprobe = nprobe
        self._index: faiss.IndexIDMap2 | faiss.IndexIVFFlat | None = None
        self._ids: set[int] = set()
        self._saved: tuple[Path, bytes] | None = None
        self.loaded_from_file = False

    @property
    def approximate(self) -> bool:
        """Whether searches go through the inverted file (True) or scan every vector."""
        return isinstance(self._index, faiss.IndexIVFFlat)

    @property
    def lists(self) -> int:
        """How many lists the inverted file has (0: the index is exact)."""
        return int(self._index.nlist) if isinstance(self._index, faiss.IndexIVFFlat) else 0

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

    def prefer_saved(self, path: Path, vectors_sha256: bytes) -> None:
        """Let the next `add` take the inverted file saved at `path` (`write_inverted_file`)
        instead of training one, if it builds one from empty and the file was built from the
        vectors file whose sha256 is `vectors_sha256`: that add's rows must be the file's, in
        its order. A missing, stale or unreadable file is logged and the index trained anew."""
        self._saved = (path, vectors_sha256)

    def add(self, ids: np.ndarray, rows: np.ndarray) -> None:
        """Add checked unit `rows` (see `checked`) under `ids`."""
        saved, self._saved = self._saved, None
        if self._index is None and len(ids) > self._ann_threshold:
            # Straight into the inverted file: no flat copy of every vector on the way.
            index = self._read_saved(*saved, ids, rows.shape[1]) if saved is not None else None
            self.loaded_from_file = index is not None
            self._index = index if index is not None else self._inverted_file(ids, rows)
            self._ids.update(ids.tolist())
            return
        if self._index is None:
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(rows.shape[1]))
        self._index.add_with_ids(rows, ids)
        self._ids.update(ids.tolist())
        if not self.approximate and len(self._ids) > self._ann_threshold:
            self._index = self._inverted_file(*self.all())

    def _inverted_file(self, ids: np.ndarray, rows: np.ndarray) -> faiss.IndexIVFFlat:
        lists = max(1, round(_LISTS_PER_SQRT_N * math.sqrt(len(ids))))
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

    def write_inverted_file(self, out: BinaryIO, vectors_sha256: bytes) -> None:
        """The trained inverted file, for `prefer_saved`: a header naming the vectors file it was
        built from (written from `all()`: its rows in the order of the ids saved here), the ids,
        then the faiss index as `faiss.write_index` writes it."""
        if not isinstance(self._index, faiss.IndexIVFFlat):
            raise ValueError("only an approximate index has an inverted file to save")
        ids = self._sorted_ids()
        out.write(_ANN_HEADER.pack(_ANN_MAGIC, ANN_VERSION, self._index.d, len(ids), vectors_sha256))
        out.write(ids.astype("<i8").tobytes())
        # The callback writer is defined by faiss's Python package, not the SWIG module mypy reads.
        faiss.write_index(self._index, faiss.PyCallbackIOWriter(out.write))  # type: ignore[attr-defined]

    def _read_saved(self, path: Path, vectors_sha256: bytes, ids: np.ndarray, dim: int) -> faiss.IndexIVFFlat | None:
        try:
            index, saved_ids = _read_inverted_file(path, vectors_sha256, len(ids), dim)
            _renumber(index, saved_ids, ids)
        except FileNotFoundError:
            logger.info("no saved inverted file at %s: training one from the vectors", path)
            return None
        except (OSError, ValueError, RuntimeError) as exc:  # faiss reports a damaged file as RuntimeError
            logger.warning("the saved inverted file %s is unusable (%s): training one from the vectors", path, exc)
            return None
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
            ids = self._sorted_ids()
            return ids, self._index.reconstruct_batch(ids)
        return faiss.vector_to_array(self._index.id_map), self._index.index.reconstruct_n(0, self._index.ntotal)

    def _sorted_ids(self) -> np.ndarray:
        return np.array(sorted(self._ids), dtype=np.int64)

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


def _read_inverted_file(path: Path, vectors_sha256: bytes, count: int, dim: int) -> tuple[faiss.IndexIVFFlat, np.ndarray]:
    """(the index, the ids it was saved under, in the vectors file's order), checked against
    the vectors it must index."""
    with path.open("rb") as source:
        header = source.read(_ANN_HEADER.size)
        if len(header) < _ANN_HEADER.size:
            raise ValueError("not an inverted file: too short")
        magic, version, saved_dim, saved_count, built_from = _ANN_HEADER.unpack(header)
        if magic != _ANN_MAGIC:
            raise ValueError("not an inverted file: bad magic")
        if version != ANN_VERSION:
            raise ValueError(f"inverted file version {version}, this code builds version {ANN_VERSION}")
        if built_from != vectors_sha256:
            raise ValueError("built from other vectors than the saved ones (stale)")
        if (saved_dim, saved_count) != (dim, count):
            raise ValueError(f"holds {saved_count} vectors of dimension {saved_dim}, not {count} of {dim}")
        id_bytes = source.read(8 * count)
        if len(id_bytes) != 8 * count:
            raise ValueError("inverted file is truncated")
        saved_ids = np.frombuffer(id_bytes, dtype="<i8").astype(np.int64)
        index = faiss.read_index(faiss.PyCallbackIOReader(source.read))  # type: ignore[attr-defined]
    if (
        not isinstance(index, faiss.IndexIVFFlat)
        or index.metric_type != faiss.METRIC_INNER_PRODUCT
        or index.ntotal != count
        or index.d != dim
    ):
        raise ValueError("the saved faiss index is not an inner-product inverted file over these vectors")
    return index, saved_ids


def _renumber(index: faiss.IndexIVFFlat, saved_ids: np.ndarray, ids: np.ndarray) -> None:
    """Give the vector saved under `saved_ids[i]` the id `ids[i]`, in place: ids are handed out
    afresh on every load, and the saved ones may have gaps left by removals."""
    order = np.argsort(saved_ids, kind="stable")
    ranked = saved_ids[order]
    lists = index.invlists
    if lists is None:
        raise ValueError("the saved faiss index has no inverted lists")
    for number in range(index.nlist):
        size = lists.list_size(number)
        if not size:
            continue
        stored = faiss.rev_swig_ptr(lists.get_ids(number), size)  # a view of the list's ids
        positions = np.minimum(np.searchsorted(ranked, stored), len(ranked) - 1)
        if not np.array_equal(ranked[positions], stored):
            raise ValueError("the saved faiss index holds ids its header does not list")
        stored[:] = ids[order[positions]]
    # The id → position map was saved with the old ids: rebuilt from the renumbered lists.
    index.set_direct_map_type(faiss.DirectMap.NoMap)  # type: ignore[attr-defined]
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]


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


def read_embeddings(path: Path) -> tuple[str, dict[str, np.ndarray], bytes]:
    """(the model that made them, vectors by key, the file's sha256) from a file
    `write_embeddings` wrote."""
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
    return model, dict(zip(keys, vectors.astype(np.float32), strict=True)), hashlib.sha256(data).digest()
