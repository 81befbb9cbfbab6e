"""An in-memory near-duplicate index over fingerprints, with atomic persistence.

Stage 1 (candidates): exact Hamming search over every entry's pHash (and its mirrored pHash)
and dHash with faiss, plus votes from nearest ORB descriptors (a crop moves the hashes too far,
its keypoints stay), plus, where entries carry image embeddings (a configured open_clip model),
their nearest neighbours by cosine similarity (exact inner product over L2-normalised float32
vectors). Stage 2 (verification): keypoint matching under a RANSAC homography, whichever stage
proposed the candidate.

An index with embeddings is saved as two files: the fingerprints at PATH and the vectors beside
it at PATH.emb, and above the approximate threshold the trained inverted file at PATH.emb.ann
(auditing/similarity/vectors.py).
"""

from __future__ import annotations

import functools
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import faiss
import fasteners
import numpy as np

from auditing.similarity.compact import (
    COMPACT_MAGIC,
    COMPACT_QUERY_DESCRIPTORS,
    CompactEntries,
    Loader,
    clone_binary,
    vote_inverted_file,
)
from auditing.similarity.fingerprint import MIN_INLIERS, WORKING_EDGE, Fingerprint, Geometry, hamming, verify, working_size
from auditing.similarity.index_files import read_index_files, write_atomically, write_index_files, write_inverted_file
from auditing.similarity.vectors import DEFAULT_ANN_THRESHOLD, VectorIndex, ann_path, embeddings_path

# Candidate thresholds, in bits of 64: unrelated images sit at 31-36 (shared/FACTS.md).
MAX_CANDIDATE_HASH_DISTANCE = 22
# Images with too few keypoints to verify (smooth gradients, flat art) fall back to the hashes,
# with a threshold tight enough that unrelated images never pass.
MAX_HASH_ONLY_DISTANCE = 6
_KEYPOINT_POOR = 2 * MIN_INLIERS
# ...and with the same proportions, to this share of the long side: the hashes of a thin or flat
# image say little (a single pixel and a 1×1000 line of noise hash alike), its shape does.
_HASH_ONLY_SHAPE_TOLERANCE = 0.05
# pHash and dHash read an 8-cell grid: a line less than this many pixels across (3000×3, 1×1000)
# gives them information along one axis only, and unrelated lines of one shape came within
# MAX_HASH_ONLY_DISTANCE of each other in most pairs; for them only identical hashes count
# (a lossless copy).
_LINE_SIDE = 8
# An ORB descriptor this close (bits of 256) to a stored one votes for its entry.
_VOTE_DISTANCE = 48
_MIN_VOTES = 4
_VOTE_CANDIDATES = 8
_HASH_CANDIDATES = 16
EMBEDDING_CANDIDATES = 8
MIN_EMBEDDING_SIMILARITY = 0.75
_REBUILD_BATCH = 5_000
# An inverted file that has grown to this many times the descriptors it was trained on is
# trained again (its lists were sized for a quarter of what it holds): amortised, each
# descriptor is trained on a bounded number of times.
_RETRAIN_GROWTH = 4
_LISTS_PER_SQRT_DESCRIPTORS = 4


@dataclass(frozen=True)
class Candidate:
    key: str
    phash_distance: int
    dhash_distance: int
    flipped_hash: bool
    votes: int
    similarity: float | None = None  # cosine similarity of the embeddings, when both have one
    sources: tuple[str, ...] = ()  # the stages that proposed it: "hash", "votes", "embedding"


@dataclass(frozen=True)
class Match:
    """A verified near-duplicate: which entry, how strongly, and how the query was transformed."""

    key: str
    inliers: int
    phash_distance: int
    dhash_distance: int
    method: str  # "keypoints", or "hash" for keypoint-poor images matched on the hashes alone
    transforms: tuple[str, ...]
    geometry: Geometry | None
    similarity: float | None = None
    sources: tuple[str, ...] = ()


def _hashes_agree(candidate: Candidate, query: Fingerprint, stored: Fingerprint) -> bool:
    """Whether a keypoint-poor pair is a copy by its hashes alone: close hashes (identical for a
    line) and the same proportions (their working copies within the tolerance in each side)."""
    line = min(query.width, query.height, stored.width, stored.height) < _LINE_SIDE
    limit = 0 if line else MAX_HASH_ONLY_DISTANCE
    tolerance = _HASH_ONLY_SHAPE_TOLERANCE * WORKING_EDGE
    (q_width, q_height), (s_width, s_height) = working_size(query.width, query.height), working_size(stored.width, stored.height)
    return (
        candidate.phash_distance <= limit
        and (candidate.flipped_hash or candidate.dhash_distance <= limit)
        and abs(q_width - s_width) <= tolerance
        and abs(q_height - s_height) <= tolerance
    )


def _hash_distances(query: Fingerprint, stored: tuple[int, int, int]) -> tuple[int, int, bool]:
    """(pHash distance, dHash distance, whether the mirrored pHash was closer) to an entry's hashes."""
    phash, dhash, phash_flipped = stored
    direct, mirrored = hamming(query.phash, phash), hamming(query.phash, phash_flipped)
    return min(direct, mirrored), hamming(query.dhash, dhash), mirrored < direct


@contextmanager
def _single_threaded() -> Iterator[None]:
    # One query is a few milliseconds of popcounts; faiss's OpenMP fan-out made it 10× slower
    # on two cores (64 ms against 5.6 ms over 2M codes).
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _code(value: int) -> np.ndarray:
    return np.frombuffer(value.to_bytes(8, "big"), dtype=np.uint8)


Method = TypeVar("Method", bound=Callable[..., Any])


def _reading(method: Method) -> Method:
    """Run under the index's read lock (with other readers, never during an add or a remove)."""

    @functools.wraps(method)
    def locked(self: NearDuplicateIndex, *args: Any, **kwargs: Any) -> Any:
        with self._guard.read_lock():
            return method(self, *args, **kwargs)

    return cast(Method, locked)


def _writing(method: Method) -> Method:
    """Run under the index's write lock (alone)."""

    @functools.wraps(method)
    def locked(self: NearDuplicateIndex, *args: Any, **kwargs: Any) -> Any:
        with self._guard.write_lock():
            return method(self, *args, **kwargs)

    return cast(Method, locked)


class NearDuplicateIndex:
    """Keyed fingerprints; `query` returns verified matches, best first.

    Descriptor votes use an exact flat index up to `ivf_threshold` descriptors and an inverted
    file (approximate, much faster) beyond it; the hash searches are always exact.

    Given a `loader` (keys → their full fingerprints, from wherever they are stored), an index
    of more than `compact_threshold` entries turns compact (auditing/similarity/compact.py):
    it keeps only the hashes and a descriptor subset per entry, and reads the fingerprints of
    the candidates it verifies through the loader. A compact index holds no embeddings.

    Thread-safe: any number of threads query while one adds or removes entries in place (a
    readers-writer lock: an add waits for the queries in flight and holds new ones back for its
    own few milliseconds).
    """

    def __init__(
        self,
        *,
        ivf_threshold: int = 2_000_000,
        embedding_model: str = "",
        embedding_ann_threshold: int = DEFAULT_ANN_THRESHOLD,
        loader: Loader | None = None,
        compact_threshold: int = 0,
    ) -> None:
        self._ivf_threshold = ivf_threshold
        self._loader = loader
        self._compact_threshold = compact_threshold
        self._compact: CompactEntries | None = None
        self._embedding_ann_threshold = embedding_ann_threshold
        # Which model made the vectors (empty: none); vectors of two models never share an index.
        self.embedding_model = embedding_model
        self._vectors = VectorIndex(ann_threshold=embedding_ann_threshold)
        self._fingerprints: dict[str, Fingerprint] = {}
        self._id_of_key: dict[str, int] = {}
        self._key_of_id: dict[int, str] = {}
        self._next_id = 0
        self._phash = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(64))
        self._dhash = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(64))
        self._votes: faiss.IndexBinary | None = None
        self._vote_owner = np.zeros(0, dtype=np.int64)
        self._votes_stale = True
        self._guard = fasteners.ReaderWriterLock()
        self._votes_lock = threading.Lock()  # the lazy vote build, which a query may start

    def __len__(self) -> int:
        return len(self._id_of_key)

    def __contains__(self, key: object) -> bool:
        return key in self._id_of_key

    @_reading
    def keys(self) -> list[str]:
        return list(self._id_of_key)

    @property
    def compact(self) -> bool:
        """Whether the index keeps only what candidate search needs (above its compact threshold)."""
        return self._compact is not None

    @property
    @_reading
    def votes_approximate(self) -> bool:
        """Whether the descriptor votes search an inverted file."""
        if self._compact is not None:
            return self._compact.approximate
        return isinstance(self._current_votes(), faiss.IndexBinaryIVF)

    @property
    @_reading
    def vote_lists(self) -> int:
        """How many lists the descriptor votes' inverted file has (0: the votes search every descriptor)."""
        votes = self._compact.vote_index() if self._compact is not None else self._current_votes()
        return int(votes.nlist) if isinstance(votes, faiss.IndexBinaryIVF) else 0

    @_reading
    def prepare_search(self) -> None:
        """Build what queries need now (the descriptor votes), so that no query pays for it."""
        if self._compact is not None:
            self._compact.vote_index()
        else:
            self._current_votes()

    @property
    def retraining(self) -> bool:
        """Whether a compact index is training a new inverted file in the background (it has
        outgrown its lists; the one it has serves, and takes the adds, until the new one is in)."""
        return self._compact is not None and self._compact.retraining

    def wait_for_retraining(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds for a background retrain to end; whether none is left."""
        return self._compact.wait_for_retraining(timeout) if self._compact is not None else True

    @_reading
    def fingerprint(self, key: str) -> Fingerprint:
        if self._compact is None:
            return self._fingerprints[key]
        if key not in self._id_of_key:
            raise KeyError(key)
        return self._compact.loader([key])[key]

    def _stored(self, keys: list[str]) -> Mapping[str, Fingerprint]:
        """Full fingerprints of `keys`: held, or (compact) read in one call; a key the loader no
        longer finds (its row was deleted meanwhile) is left out."""
        if self._compact is None:
            return {key: self._fingerprints[key] for key in keys}
        return self._compact.loader(keys) if keys else {}

    def _hashes_of(self, entry_id: int) -> tuple[int, int, int]:
        """(pHash, dHash, mirrored pHash) of an entry."""
        if self._compact is not None:
            return self._compact.hashes_of(entry_id)
        stored = self._fingerprints[self._key_of_id[entry_id]]
        return stored.phash, stored.dhash, stored.phash_flipped

    @property
    def embedding_dim(self) -> int | None:
        return self._vectors.dim

    def embedded_count(self) -> int:
        return len(self._vectors)

    @_reading
    def embedding(self, key: str) -> np.ndarray | None:
        """The entry's unit-length embedding, or None when it has none."""
        entry_id = self._id_of_key[key]
        return self._vectors.get(entry_id) if entry_id in self._vectors else None

    @property
    def embeddings_approximate(self) -> bool:
        """Whether the embedding stage searches an inverted file (above its threshold) or every vector."""
        return self._vectors.approximate

    @property
    def embeddings_from_saved_file(self) -> bool:
        """Whether `load` read the trained inverted file saved beside the vectors (True) or had
        to train it (False; also for an index that was not loaded or is exact)."""
        return self._vectors.loaded_from_file

    @_reading
    def embeddings(self) -> dict[str, np.ndarray]:
        """Every entry's embedding, by key (read in bulk)."""
        ids, vectors = self._vectors.all()
        return {self._key_of_id[int(entry_id)]: vector for entry_id, vector in zip(ids, vectors, strict=True)}

    @_reading
    def copy(self) -> NearDuplicateIndex:
        """An independent index with the same entries: add to it while others query this one."""
        if self._compact is not None:
            twin = NearDuplicateIndex(
                ivf_threshold=self._ivf_threshold, loader=self._loader, compact_threshold=self._compact_threshold
            )
            twin._compact = self._compact.copy()
            twin._id_of_key, twin._key_of_id, twin._next_id = dict(self._id_of_key), dict(self._key_of_id), self._next_id
            twin._phash = clone_binary(self._phash)
            twin._dhash = clone_binary(self._dhash)
            return twin
        return NearDuplicateIndex.rebuild(
            self._fingerprints.items(),
            embeddings=self.embeddings(),
            embedding_model=self.embedding_model,
            ivf_threshold=self._ivf_threshold,
            embedding_ann_threshold=self._embedding_ann_threshold,
            loader=self._loader,
            compact_threshold=self._compact_threshold,
        )

    def add(self, key: str, fingerprint: Fingerprint, *, embedding: np.ndarray | None = None) -> None:
        """Add or replace `key`. Entries need no mirrored features; they are dropped to save memory."""
        self.add_many([(key, fingerprint)], embeddings={key: embedding} if embedding is not None else None)

    @_writing
    def add_many(self, items: Iterable[tuple[str, Fingerprint]], *, embeddings: Mapping[str, np.ndarray] | None = None) -> None:
        """Add or replace entries; `embeddings` gives some of them an image embedding (any scale:
        stored L2-normalised)."""
        items = list(items)
        keys, vectors = self._checked_vectors(items, embeddings or {})
        if keys and (self._compact is not None or self._loader is not None):
            raise ValueError("an index with a loader (compact above its threshold) holds no embeddings")
        replaced = [key for key, _ in items if key in self._id_of_key]
        if replaced:
            self.remove_many(replaced)
        ids = np.arange(self._next_id, self._next_id + len(items), dtype=np.int64)
        self._next_id += len(items)
        phashes = np.empty((2 * len(items), 8), dtype=np.uint8)
        dhashes = np.empty((len(items), 8), dtype=np.uint8)
        for row, (entry_id, (key, fingerprint)) in enumerate(zip(ids.tolist(), items, strict=True)):
            if key in self._id_of_key:
                raise ValueError(f"key {key!r} given twice")
            if self._compact is None:
                self._fingerprints[key] = fingerprint.without_mirror()
            self._id_of_key[key] = entry_id
            self._key_of_id[entry_id] = key
            phashes[2 * row] = _code(fingerprint.phash)
            phashes[2 * row + 1] = _code(fingerprint.phash_flipped)
            dhashes[row] = _code(fingerprint.dhash)
        self._phash.add_with_ids(phashes, np.repeat(ids, 2))
        self._dhash.add_with_ids(dhashes, ids)
        if self._compact is not None:
            self._compact.put(ids.tolist(), [fingerprint for _, fingerprint in items])
        elif self._loader is not None and len(self) > self._compact_threshold:
            self._make_compact()
        else:
            self._add_votes(ids, [fingerprint for _, fingerprint in items])
        if keys:
            self._vectors.add(np.array([self._id_of_key[key] for key in keys], dtype=np.int64), vectors)

    def _make_compact(self) -> None:
        """Move every entry into the compact tables and drop the full fingerprints."""
        if self._loader is None:
            raise RuntimeError("a compact index needs a loader")
        self._compact = CompactEntries(self._loader, ivf_threshold=self._ivf_threshold)
        held = [(self._id_of_key[key], fingerprint) for key, fingerprint in self._fingerprints.items()]
        self._compact.put([entry_id for entry_id, _ in held], [fingerprint for _, fingerprint in held])
        self._fingerprints = {}
        self._votes, self._vote_owner, self._votes_stale = None, np.zeros(0, dtype=np.int64), True

    def _checked_vectors(
        self, items: list[tuple[str, Fingerprint]], embeddings: Mapping[str, np.ndarray]
    ) -> tuple[list[str], np.ndarray]:
        """The keys and unit rows of `embeddings`, checked before anything is changed."""
        if not embeddings:
            return [], np.zeros((0, 0), dtype=np.float32)
        strangers = set(embeddings) - {key for key, _ in items}
        if strangers:
            raise ValueError(f"embeddings for keys not being added: {sorted(strangers)[:3]}")
        keys = list(embeddings)
        return keys, self._vectors.checked([embeddings[key] for key in keys])

    def remove(self, key: str) -> None:
        self.remove_many([key])

    @_writing
    def remove_many(self, keys: Iterable[str]) -> None:
        ids = []
        for key in keys:
            entry_id = self._id_of_key.pop(key)
            del self._key_of_id[entry_id]
            self._fingerprints.pop(key, None)
            ids.append(entry_id)
        selector = np.array(ids, dtype=np.int64)
        # faiss's Python wrapper takes an id array here; its SWIG signature names only IDSelector.
        self._phash.remove_ids(selector)  # type: ignore[arg-type]
        self._dhash.remove_ids(selector)  # type: ignore[arg-type]
        self._vectors.remove(ids)
        if self._compact is not None:
            self._compact.remove(ids)
        # Descriptor rows of removed entries stay until the next rebuild; their votes are ignored.

    def _add_votes(self, ids: np.ndarray, fingerprints: list[Fingerprint]) -> None:
        """New entries' descriptors into the built vote index, in place; when the flat index would
        pass its threshold, or the inverted file has grown to `_RETRAIN_GROWTH` times the
        descriptors it was trained on (its lists too few for its size), it is rebuilt instead
        (by the next query, or `prepare_search`)."""
        if self._votes_stale or self._votes is None:
            return
        pairs = zip(ids.tolist(), fingerprints, strict=True)
        held = [(entry_id, fp.descriptors) for entry_id, fp in pairs if len(fp.descriptors)]
        if not held:
            return
        data = np.concatenate([descriptors for _, descriptors in held])
        before = self._votes.ntotal
        if isinstance(self._votes, faiss.IndexBinaryIVF):
            # Trained for (lists / 4)² descriptors (`_rebuild_votes`).
            outgrown = before + len(data) > _RETRAIN_GROWTH * (self._votes.nlist / _LISTS_PER_SQRT_DESCRIPTORS) ** 2
        else:
            outgrown = before + len(data) > self._ivf_threshold
        if outgrown:
            self._votes_stale = True
            return
        if before + len(data) > len(self._vote_owner):
            # Grown by doubling: an add copies the owners now and then, not every time.
            grown = np.zeros(max(before + len(data), 2 * len(self._vote_owner)), dtype=np.int64)
            grown[:before] = self._vote_owner[:before]
            self._vote_owner = grown
        self._vote_owner[before : before + len(data)] = np.repeat(
            [entry_id for entry_id, _ in held], [len(descriptors) for _, descriptors in held]
        )
        self._votes.add(data)

    def _current_votes(self) -> faiss.IndexBinary:
        """The vote index of a full (not compact) index, built first if stale."""
        with self._votes_lock:
            if self._votes_stale:
                self._rebuild_votes()
        if self._votes is None:
            raise RuntimeError("the descriptor-vote index was not built")
        return self._votes

    def _rebuild_votes(self) -> None:
        owners: list[np.ndarray] = []
        blocks: list[np.ndarray] = []
        for key, fingerprint in self._fingerprints.items():
            if len(fingerprint.descriptors):
                blocks.append(fingerprint.descriptors)
                owners.append(np.full(len(fingerprint.descriptors), self._id_of_key[key], dtype=np.int64))
        data = np.concatenate(blocks) if blocks else np.zeros((0, 32), dtype=np.uint8)
        if len(data) > self._ivf_threshold:
            lists = int(_LISTS_PER_SQRT_DESCRIPTORS * np.sqrt(len(data)))
            index: faiss.IndexBinary = vote_inverted_file(data, lists=lists, training_rows=50 * lists)
        else:
            index = faiss.IndexBinaryFlat(256)
        index.add(data)
        self._votes = index
        self._vote_owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
        self._votes_stale = False

    def _hash_hits(self, fingerprint: Fingerprint) -> dict[int, tuple[int, int, bool]]:
        """Entry id → (pHash distance, dHash distance, whether the mirrored pHash was closer)."""
        if not self._id_of_key:
            return {}
        k = min(_HASH_CANDIDATES, len(self._id_of_key))
        with _single_threaded():
            p_distances, p_ids = self._phash.search(_code(fingerprint.phash)[None, :], 2 * k)
            d_distances, d_ids = self._dhash.search(_code(fingerprint.dhash)[None, :], k)
        hits: dict[int, tuple[int, int, bool]] = {}
        for distance, entry_id in [*zip(p_distances[0], p_ids[0], strict=True), *zip(d_distances[0], d_ids[0], strict=True)]:
            if entry_id < 0 or distance > MAX_CANDIDATE_HASH_DISTANCE or entry_id in hits:
                continue
            hits[int(entry_id)] = _hash_distances(fingerprint, self._hashes_of(int(entry_id)))
        return hits

    def _vote_hits(self, fingerprint: Fingerprint) -> Counter[int]:
        # A compact index's vote ids are entry ids; a full one's are rows of `_vote_owner`.
        index = self._compact.vote_index() if self._compact is not None else self._current_votes()
        queries = [d for d in (fingerprint.descriptors, fingerprint.mirrored_descriptors) if len(d)]
        if self._compact is not None:
            queries = [d[:COMPACT_QUERY_DESCRIPTORS] for d in queries]
        if not queries or index.ntotal == 0:
            return Counter()
        with _single_threaded():
            distances, rows = index.search(np.concatenate(queries), 1)
        close = rows[:, 0][(distances[:, 0] <= _VOTE_DISTANCE) & (rows[:, 0] >= 0)]
        owners = close if self._compact is not None else self._vote_owner[close]
        votes = Counter(int(owner) for owner in owners if int(owner) in self._key_of_id)
        return Counter({entry_id: n for entry_id, n in votes.most_common(_VOTE_CANDIDATES) if n >= _MIN_VOTES})

    @_reading
    def candidates(
        self,
        fingerprint: Fingerprint,
        *,
        embedding: np.ndarray | None = None,
        hashes: bool = True,
        votes: bool = True,
        embedding_candidates: int = EMBEDDING_CANDIDATES,
        min_similarity: float = MIN_EMBEDDING_SIMILARITY,
    ) -> list[Candidate]:
        """Stage 1 only: entries whose hashes are close, whose descriptors got votes, or (given the
        query's `embedding`) whose embeddings are among its `embedding_candidates` nearest with
        at least `min_similarity`. `hashes` / `votes` switch those stages off."""
        hits = self._hash_hits(fingerprint) if hashes else {}
        vote_counts = self._vote_hits(fingerprint) if votes else Counter()
        query_vector = self._vectors.query_row(embedding) if embedding is not None else None
        similar: dict[int, float] = {}
        if query_vector is not None:
            with _single_threaded():
                similar = self._vectors.search(query_vector, embedding_candidates, min_similarity)
            similar = {entry_id: value for entry_id, value in similar.items() if entry_id in self._key_of_id}
        found = []
        for entry_id in {**hits, **dict.fromkeys(vote_counts), **dict.fromkeys(similar)}:
            key = self._key_of_id[entry_id]
            phash_distance, dhash_distance, flipped = (
                hits[entry_id] if entry_id in hits else _hash_distances(fingerprint, self._hashes_of(entry_id))
            )
            similarity = similar.get(entry_id)
            if similarity is None and query_vector is not None and entry_id in self._vectors:
                similarity = float(self._vectors.get(entry_id) @ query_vector[0])
            sources = tuple(
                name for name, table in (("hash", hits), ("votes", vote_counts), ("embedding", similar)) if entry_id in table
            )
            found.append(
                Candidate(key, phash_distance, dhash_distance, flipped, vote_counts.get(entry_id, 0), similarity, sources)
            )
        found.sort(
            key=lambda c: (-c.votes, -(c.similarity if c.similarity is not None else -2.0), c.phash_distance + c.dhash_distance)
        )
        return found

    @_reading
    def query(
        self,
        fingerprint: Fingerprint,
        *,
        k: int = 5,
        embedding: np.ndarray | None = None,
        hashes: bool = True,
        votes: bool = True,
        embedding_candidates: int = EMBEDDING_CANDIDATES,
        min_similarity: float = MIN_EMBEDDING_SIMILARITY,
        min_inliers: int = MIN_INLIERS,
    ) -> list[Match]:
        """Verified near-duplicates of `fingerprint`, most inliers first, at most `k`. Every
        candidate, whichever stage proposed it, must pass the same verification (`min_inliers`
        lowered only to measure the threshold curve)."""
        matches: list[Match] = []
        candidates = self.candidates(
            fingerprint,
            embedding=embedding,
            hashes=hashes,
            votes=votes,
            embedding_candidates=embedding_candidates,
            min_similarity=min_similarity,
        )
        stored_by_key = self._stored([candidate.key for candidate in candidates])
        for candidate in candidates:
            stored = stored_by_key.get(candidate.key)
            if stored is None:
                continue
            verification = verify(fingerprint, stored, flipped_first=candidate.flipped_hash, min_inliers=min_inliers)
            if verification is not None:
                matches.append(
                    Match(
                        key=candidate.key,
                        inliers=verification.inliers,
                        phash_distance=candidate.phash_distance,
                        dhash_distance=candidate.dhash_distance,
                        method="keypoints",
                        transforms=verification.geometry.transforms,
                        geometry=verification.geometry,
                        similarity=candidate.similarity,
                        sources=candidate.sources,
                    )
                )
            elif min(len(fingerprint.points), len(stored.points)) < _KEYPOINT_POOR and _hashes_agree(
                candidate, fingerprint, stored
            ):
                matches.append(
                    Match(
                        key=candidate.key,
                        inliers=0,
                        phash_distance=candidate.phash_distance,
                        dhash_distance=candidate.dhash_distance,
                        method="hash",
                        transforms=("flip",) if candidate.flipped_hash else ("identity",),
                        geometry=None,
                        similarity=candidate.similarity,
                        sources=candidate.sources,
                    )
                )
        matches.sort(key=lambda m: (-m.inliers, m.phash_distance))
        return matches[:k]

    @_reading
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write every entry atomically (temp file in the same folder, fsync, rename); the
        embeddings, if any, likewise to `embeddings_path(path)` (else that file is removed). A
        compact index writes its own tables instead (auditing/similarity/compact.py)."""
        if self._compact is not None:
            compact = self._compact
            write_atomically(Path(path), lambda out: compact.write(out, self._id_of_key.items()))
            embeddings_path(path).unlink(missing_ok=True)
            ann_path(path).unlink(missing_ok=True)
            return
        write_index_files(
            Path(path),
            self._fingerprints.items(),
            embedding_model=self.embedding_model,
            embeddings=self.embeddings() if self._vectors or self.embedding_model else None,
            embedding_dim=self.embedding_dim or 0,
            inverted_file=self._vectors.write_inverted_file if self._vectors.approximate else None,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, loader: Loader | None = None, **options: int) -> NearDuplicateIndex:
        """The index saved at `path`; above the approximate threshold its trained inverted file
        is read from beside it, or trained from the vectors and saved there for the next load.
        A compact index needs its `loader` again."""
        with open(path, "rb") as head:
            compact = head.read(len(COMPACT_MAGIC)) == COMPACT_MAGIC
        if compact:
            if loader is None:
                raise ValueError("a compact index needs a loader")
            return cls._load_compact(Path(path), loader, **options)
        items, model, embeddings, vectors_sha256 = read_index_files(Path(path))
        index = cls(embedding_model=model, loader=loader, **options)
        index._vectors.prefer_saved(ann_path(path), vectors_sha256)
        index.add_many(items, embeddings=embeddings)
        if index._vectors.approximate and not index._vectors.loaded_from_file:
            write_inverted_file(Path(path), index._vectors.write_inverted_file, vectors_sha256)
        return index

    @classmethod
    def _load_compact(cls, path: Path, loader: Loader, **options: int) -> NearDuplicateIndex:
        index = cls(embedding_model="", loader=loader, **options)
        index._compact, keys, ids = CompactEntries.read(path, loader, ivf_threshold=index._ivf_threshold)
        index._id_of_key = dict(zip(keys, ids.tolist(), strict=True))
        index._key_of_id = dict(zip(ids.tolist(), keys, strict=True))
        index._next_id = int(ids.max()) + 1 if len(ids) else 0
        # The hash searches are rebuilt from the saved hashes (big-endian bytes, as `_code`).
        codes = index._compact.hashes_of_many(ids).astype(">u8").view(np.uint8).reshape(len(ids), 3, 8)
        index._phash.add_with_ids(np.ascontiguousarray(codes[:, [0, 2], :].reshape(-1, 8)), np.repeat(ids, 2))
        index._dhash.add_with_ids(np.ascontiguousarray(codes[:, 1, :]), ids)
        return index

    @classmethod
    def rebuild(
        cls,
        items: Iterable[tuple[str, Fingerprint]],
        *,
        embeddings: Mapping[str, np.ndarray] | None = None,
        embedding_model: str = "",
        loader: Loader | None = None,
        **options: int,
    ) -> NearDuplicateIndex:
        """A fresh index from stored fingerprints (for example, the rows of a table), and the
        embeddings of some of them, made by `embedding_model`."""
        index = cls(embedding_model=embedding_model, loader=loader, **options)
        if index._loader is None:
            index.add_many(items, embeddings=embeddings)
            return index
        # With a loader the index may turn compact: add in slices so that a million rows never
        # sit in memory at once as full fingerprints.
        if embeddings:
            raise ValueError("an index with a loader (compact above its threshold) holds no embeddings")
        batch: list[tuple[str, Fingerprint]] = []
        for item in items:
            batch.append(item)
            if len(batch) == _REBUILD_BATCH:
                index.add_many(batch)
                batch = []
        index.add_many(batch)
        return index
