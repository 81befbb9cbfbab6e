"""The large mode of a near-duplicate index: in memory only what the candidate search needs.

A fingerprint is ~25 KB (up to ~700 ORB keypoints of 36 bytes); a million of them (the output
registry at volume) would need ~25 GB in every web and worker process. Above its threshold an
index given a loader keeps, per entry, its three 64-bit hashes (for the same exact Hamming
searches as below it) and the first `SUBSET_DESCRIPTORS` of its ORB descriptors (for the
descriptor votes, in the engine's binary inverted file); the full fingerprints of the few
candidates a query must verify are read on demand through the loader (for outputs: one query
on their table by key), so ~1.3 KB per entry stays in memory instead of ~25 KB.

Which descriptors: `fingerprint._spread` orders an image's keypoints round-robin over a 4×4 grid
by ORB response, so the first 32 are the strongest two of every cell of the working copy:
spread over the picture, and the ones a re-encoded, resized or cropped copy finds again.

The file of a compact index (at the index's own path) holds the keys, their entry ids and
hashes, then the vote index as faiss serialises it (trained: a process start reads it; it trains
again only once it has outgrown its lists, in a background thread, `CompactEntries._flushed`).
"""

from __future__ import annotations

import logging
import math
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

import faiss
import numpy as np

from auditing.similarity.fingerprint import Fingerprint

Loader = Callable[[list[str]], Mapping[str, Fingerprint]]
BinaryIndex = TypeVar("BinaryIndex", bound=faiss.IndexBinary)

logger = logging.getLogger(__name__)

SUBSET_DESCRIPTORS = 32
# The compact vote index is the engine's inverted file once it holds more codes than the
# engine's `ivf_threshold` or this, whichever is lower: a flat scan of 1.6M codes (50,000
# entries) took ~3 s for a query's ~1,400 descriptors.
COMPACT_IVF_CODES = 65_536
# 2·sqrt(n) lists (~11,000 at 1M entries). A flat quantizer compares each of a query's ~1,400
# descriptors with every centroid, and each of 32M added codes too (~50 minutes to fill on two
# cores); an HNSW graph over the centroids finds a code's lists in logarithmic time. k-means
# sees few codes per list and few rounds: at 32M codes the full rule (50 per list, 25 rounds)
# would train for hours; the lists need only split the codes, not be optimal.
_LISTS_PER_SQRT_N = 2
_TRAINING_PER_LIST = 8
_TRAINING_ITERATIONS = 5
_HNSW_NEIGHBOURS = 16
# What a compact query searches: its strongest descriptors per orientation (`_spread`'s order,
# 16 per cell of the 4×4 grid: an entry keeps its 2 strongest per cell, and a copy's strongest
# are found among the query's), in 8 lists each. At 1M outputs (2026-12-06, the registry of
# bench/verify_volume.py, 100 stripped copies, votes alone, no hash candidates) every copy was
# found with 16 lists × every descriptor (716 ms a query), 8 × 256 (145 ms), 4 × 256 (79 ms)
# and 8 × 128 (77 ms): this is the middle of that, with a margin on both.
COMPACT_QUERY_DESCRIPTORS = 256
COMPACT_NPROBE = 8
RETRAIN_GROWTH = 4

COMPACT_MAGIC = b"CRNDCMP\0"
COMPACT_VERSION = 1
_HEADER = struct.Struct("<8sHQQ")  # magic, version, entry count, serialised vote index bytes


def clone_binary(index: BinaryIndex) -> BinaryIndex:
    """An independent copy (faiss's Python module has no clone for binary indexes)."""
    return cast(BinaryIndex, faiss.deserialize_index_binary(faiss.serialize_index_binary(index)))


def descriptor_subset(fingerprint: Fingerprint) -> np.ndarray:
    return fingerprint.descriptors[:SUBSET_DESCRIPTORS]


def vote_inverted_file(
    data: np.ndarray, *, lists: int, training_rows: int, iterations: int | None = None, graph_quantizer: bool = False
) -> faiss.IndexBinaryIVF:
    """The engine's approximate descriptor index: a binary inverted file of `lists` lists,
    k-means trained on `training_rows` random rows of `data` (nothing added yet); its lists are
    found by a flat scan of the centroids, or with `graph_quantizer` through an HNSW graph."""
    quantizer = faiss.IndexBinaryHNSW(256, _HNSW_NEIGHBOURS) if graph_quantizer else faiss.IndexBinaryFlat(256)
    ivf = faiss.IndexBinaryIVF(quantizer, 256, lists)
    if iterations is not None:
        ivf.cp.niter = iterations
    sample = data[np.random.default_rng(0).choice(len(data), min(len(data), training_rows), replace=False)]
    ivf.train(sample)
    ivf.nprobe = 16
    return ivf


def _codes_of(index: faiss.IndexBinary) -> tuple[np.ndarray, np.ndarray]:
    """(ids, codes) held by a compact vote index: the flat one (an id map) or the inverted file."""
    if index.ntotal == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 32), dtype=np.uint8)
    if isinstance(index, faiss.IndexBinaryIDMap):
        flat: Any = faiss.downcast_IndexBinary(index.index)  # its codes (`xb`) are not in the stubs
        return faiss.vector_to_array(index.id_map), faiss.vector_to_array(flat.xb).reshape(-1, 32)
    inverted: Any = faiss.downcast_IndexBinary(index)  # `invlists` is not in the stubs
    lists = inverted.invlists
    ids, codes = [], []
    for number in range(lists.nlist):
        size = lists.list_size(number)
        if size:
            ids.append(faiss.rev_swig_ptr(lists.get_ids(number), size).copy())
            codes.append(faiss.rev_swig_ptr(lists.get_codes(number), size * 32).copy().reshape(size, 32))
    return np.concatenate(ids).astype(np.int64), np.concatenate(codes)


def _compact_inverted_file(rows: np.ndarray) -> faiss.IndexBinaryIVF:
    """An inverted file for a compact index of `rows` codes, trained (nothing added yet)."""
    lists = max(1, int(_LISTS_PER_SQRT_N * math.sqrt(len(rows))))
    ivf = vote_inverted_file(
        rows, lists=lists, training_rows=_TRAINING_PER_LIST * lists, iterations=_TRAINING_ITERATIONS, graph_quantizer=True
    )
    ivf.nprobe = COMPACT_NPROBE
    return ivf


@dataclass
class _Retrain:
    """A retrain in flight: its thread, and what the serving index took since its copy."""

    thread: threading.Thread = field(init=False)
    added: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    removed: list[np.ndarray] = field(default_factory=list)


class CompactEntries:
    """Hashes and descriptor subsets by entry id, the vote index over the subsets, and the loader
    that reads full fingerprints for verification."""

    def __init__(self, loader: Loader, *, ivf_threshold: int) -> None:
        self.loader = loader
        self._ivf_threshold = ivf_threshold
        self._hashes = np.zeros((0, 3), dtype=np.uint64)  # row = entry id: pHash, dHash, mirrored pHash
        self._pending_ids: list[np.ndarray] = []
        self._pending_rows: list[np.ndarray] = []
        self._votes: faiss.IndexBinary = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(256))
        self._flush = threading.Lock()  # queries flush pending codes; one at a time
        self._retraining: _Retrain | None = None
        self._retrain_failed_at = 0

    def put(self, entry_ids: list[int], fingerprints: list[Fingerprint]) -> None:
        if not entry_ids:
            return
        needed = max(entry_ids) + 1
        if needed > len(self._hashes):
            grown = np.zeros((max(needed, 2 * len(self._hashes), 1024), 3), dtype=np.uint64)
            grown[: len(self._hashes)] = self._hashes
            self._hashes = grown
        ids = np.array(entry_ids, dtype=np.int64)
        self._hashes[ids] = np.array([(fp.phash, fp.dhash, fp.phash_flipped) for fp in fingerprints], dtype=np.uint64)
        subsets = [descriptor_subset(fp) for fp in fingerprints]
        self._pending_ids.append(np.repeat(ids, [len(subset) for subset in subsets]))
        self._pending_rows.append(np.concatenate(subsets) if subsets else np.zeros((0, 32), dtype=np.uint8))

    def hashes_of(self, entry_id: int) -> tuple[int, int, int]:
        phash, dhash, flipped = (int(value) for value in self._hashes[entry_id])
        return phash, dhash, flipped

    def hashes_of_many(self, entry_ids: np.ndarray) -> np.ndarray:
        return self._hashes[entry_ids]

    def remove(self, entry_ids: list[int]) -> None:
        removed = np.array(entry_ids, dtype=np.int64)
        with self._flush:
            self._flushed().remove_ids(removed)
            if self._retraining is not None:
                self._retraining.removed.append(removed)

    @property
    def approximate(self) -> bool:
        return isinstance(self.vote_index(), faiss.IndexBinaryIVF)

    @property
    def retraining(self) -> bool:
        return self._retraining is not None

    def wait_for_retraining(self, timeout: float | None = None) -> bool:
        """Whether no retrain is in flight once it has ended (or `timeout` seconds have passed)."""
        retrain = self._retraining
        if retrain is not None:
            retrain.thread.join(timeout)
        return self._retraining is None

    def vote_index(self) -> faiss.IndexBinary:
        """The vote index with every added entry's subset (ids are entry ids)."""
        with self._flush:
            return self._flushed()

    def _flushed(self) -> faiss.IndexBinary:
        """Pending codes added (the caller holds `_flush`). The add that takes the flat index past
        the threshold trains the inverted file from every code so far, there and then (at most
        `COMPACT_IVF_CODES`: well under a second). The add that takes the inverted file to
        `RETRAIN_GROWTH` times the codes it was trained on (its lists were sized for a quarter of
        them) starts training a new one in another thread, which takes minutes at 500,000
        entries; until it is swapped in, this one serves and takes the adds."""
        if not self._pending_ids:
            return self._votes
        ids, rows = np.concatenate(self._pending_ids), np.concatenate(self._pending_rows)
        self._pending_ids, self._pending_rows = [], []
        if isinstance(self._votes, faiss.IndexBinaryIVF):
            self._votes.add_with_ids(rows, ids)
            if self._retraining is not None:
                self._retraining.added.append((ids, rows))
            elif self._votes.ntotal > max(
                RETRAIN_GROWTH * (self._votes.nlist / _LISTS_PER_SQRT_N) ** 2, 2 * self._retrain_failed_at
            ):
                self._start_retraining()
        elif self._votes.ntotal + len(rows) > min(self._ivf_threshold, COMPACT_IVF_CODES):
            old_ids, old_rows = _codes_of(self._votes)
            ids, rows = np.concatenate([old_ids, ids]), np.concatenate([old_rows, rows])
            self._votes = _compact_inverted_file(rows)
            self._votes.add_with_ids(rows, ids)
        else:
            self._votes.add_with_ids(rows, ids)
        return self._votes

    def _start_retraining(self) -> None:
        ids, rows = _codes_of(self._votes)  # a copy: the adds go on in the index it came from
        retrain = _Retrain()
        retrain.thread = threading.Thread(
            target=self._retrain, args=(retrain, ids, rows), name="compact-vote-retrain", daemon=True
        )
        self._retraining = retrain
        retrain.thread.start()

    def _retrain(self, retrain: _Retrain, ids: np.ndarray, rows: np.ndarray) -> None:
        """A new inverted file from the copied codes, with what was added to and removed from the
        serving one since, swapped in. On one thread: the process's other cores serve queries."""
        fresh: faiss.IndexBinaryIVF | None = None
        try:
            faiss.omp_set_num_threads(1)  # this thread's own OpenMP setting
            fresh = _compact_inverted_file(rows)
            fresh.add_with_ids(rows, ids)
        except Exception:
            logger.exception("retraining the compact vote index failed; the one it outgrew serves on")
        with self._flush:
            if fresh is None:
                self._retrain_failed_at = len(rows)  # tried again once it has doubled, not at every add
            else:
                for added_ids, added_rows in retrain.added:
                    fresh.add_with_ids(added_rows, added_ids)
                for removed in retrain.removed:
                    fresh.remove_ids(removed)
                self._votes = fresh
            self._retraining = None

    def copy(self) -> CompactEntries:
        twin = CompactEntries(self.loader, ivf_threshold=self._ivf_threshold)
        twin._hashes = self._hashes.copy()
        twin._votes = clone_binary(self.vote_index())
        if isinstance(twin._votes, faiss.IndexBinaryIVF):
            twin._votes.nprobe = COMPACT_NPROBE
        return twin

    def write(self, out: BinaryIO, keys_by_id: Iterable[tuple[str, int]]) -> None:
        """Keys, entry ids and hashes, then the serialised vote index."""
        pairs = list(keys_by_id)
        encoded = [key.encode() for key, _ in pairs]
        ids = np.array([entry_id for _, entry_id in pairs], dtype=np.int64)
        votes = faiss.serialize_index_binary(self.vote_index())
        out.write(_HEADER.pack(COMPACT_MAGIC, COMPACT_VERSION, len(pairs), len(votes)))
        out.write(np.array([len(key) for key in encoded], dtype="<u2").tobytes())
        out.write(b"".join(encoded))
        out.write(ids.astype("<i8").tobytes())
        out.write(np.ascontiguousarray(self._hashes[ids]).astype("<u8").tobytes())
        out.write(votes.tobytes())

    @classmethod
    def read(cls, path: Path, loader: Loader, *, ivf_threshold: int) -> tuple[CompactEntries, list[str], np.ndarray]:
        """(entries, keys, their entry ids) as `write` wrote them."""
        data = path.read_bytes()
        magic, version, count, votes_size = _HEADER.unpack_from(data)
        if magic != COMPACT_MAGIC:
            raise ValueError("not a compact near-duplicate index: bad magic")
        if version != COMPACT_VERSION:
            raise ValueError(f"compact index file version {version}, this code reads {COMPACT_VERSION}: rebuild it")
        offset = _HEADER.size
        lengths = np.frombuffer(data, dtype="<u2", count=count, offset=offset).astype(np.int64)
        offset += 2 * count
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if count else 0
        raw = data[offset : offset + total]
        starts = (ends - lengths).tolist()
        keys = [raw[start:end].decode() for start, end in zip(starts, ends.tolist(), strict=True)]
        offset += total
        ids = np.frombuffer(data, dtype="<i8", count=count, offset=offset).astype(np.int64)
        offset += 8 * count
        hashes = np.frombuffer(data, dtype="<u8", count=3 * count, offset=offset).reshape(count, 3)
        offset += 24 * count
        if offset + votes_size != len(data):
            raise ValueError("compact index file has a wrong length")
        entries = cls(loader, ivf_threshold=ivf_threshold)
        entries._hashes = np.zeros((int(ids.max()) + 1 if count else 0, 3), dtype=np.uint64)
        entries._hashes[ids] = hashes
        entries._votes = faiss.deserialize_index_binary(np.frombuffer(data, dtype=np.uint8, count=votes_size, offset=offset))
        if isinstance(entries._votes, faiss.IndexBinaryIVF):
            entries._votes.nprobe = COMPACT_NPROBE
        return entries, keys, ids
