"""A process-wide near-duplicate index over one table's fingerprints, persisted beside the data.

Used for the protected works (auditing/services/protected_index.py) and for generated outputs
(generation/output_index.py). The file `<CLEANROOM_INDEX_DIR>/<name>` holds every row's
fingerprint; `<name>.meta.json` beside it records what the file was built from (row count, the
latest row's key and timestamp) and the file's sha256. The database is the truth: an index whose
metadata disagrees with it (missing, stale, corrupt, or a crash between the two writes) is
rebuilt from the fingerprints in the table and saved again, atomically.

The table needs a `created_at` timestamp and a binary fingerprint field
(`Fingerprint.to_bytes()`); the index is keyed by the row's primary key as a string.

With an `embedder` (see `Embedder`), the index also holds the rows' image embeddings of the
configured model, saved beside it (`<name>.emb`); the model is part of the state, so
configuring another one rebuilds the index (the embedder supplies stored vectors or computes
missing ones).

With a `loader` (keys → full fingerprints, read from the table) and a `compact_threshold`, an
index of more rows than the threshold is compact (auditing/similarity/compact.py): rebuilt from
the table in slices, saved as its own small file, and verifying candidates read on demand.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from django.conf import settings

from auditing.similarity.compact import Loader
from auditing.similarity.near_duplicate import FINGERPRINT_VERSION, INDEX_VERSION, Fingerprint, NearDuplicateIndex
from auditing.similarity.vectors import embeddings_path

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    """Image embeddings for the rows of an index's table."""

    def version(self) -> str:
        """The configured model's version; empty when none is configured."""
        ...

    def vectors(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The embeddings of these rows by the configured model: stored, else computed (and
        stored). Rows that cannot be embedded are left out."""
        ...


@dataclass(frozen=True)
class IndexState:
    """What the index must hold: as many entries as the table, the latest among them, and the
    embeddings of the configured model (empty: none)."""

    count: int
    latest_id: str
    latest_created_at: str
    embedding_model: str = ""

    def held_by(self, index: NearDuplicateIndex) -> bool:
        return (
            len(index) == self.count
            and (not self.latest_id or self.latest_id in index)
            and index.embedding_model == self.embedding_model
        )


def _ann_threshold() -> int:
    """Above this many embeddings the candidate search is approximate (an inverted file)."""
    return int(settings.CLEANROOM_EMBEDDINGS_ANN_THRESHOLD)


def index_dir() -> Path:
    return Path(getattr(settings, "CLEANROOM_INDEX_DIR", None) or Path(settings.DATA_DIR) / "indexes")


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def _decoded(rows: Iterable[tuple[object, bytes]], what: str) -> Iterator[tuple[str, Fingerprint]]:
    for key, raw in rows:
        try:
            yield str(key), Fingerprint.from_bytes(bytes(raw))
        except ValueError as exc:
            # A fingerprint of another version cannot be compared; it must be recomputed.
            logger.warning("%s %s has an unreadable fingerprint: %s", what, key, exc)


def _state_of(meta: dict) -> IndexState:
    return IndexState(meta["count"], meta["latest_id"], meta["latest_created_at"], meta.get("embedding_model", ""))


def _sha256_if_present(path: Path) -> str | None:
    return _sha256(path) if path.exists() else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json_atomically(path: Path, document: dict) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(document, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise writers across processes (several workers on one data folder)."""
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class PersistedIndex:
    """The index of every row of `model`: cached in the process, else read from its file, else
    rebuilt from the database (and the file rewritten)."""

    def __init__(
        self,
        *,
        file_name: str,
        # Any model with `created_at` and a fingerprint field, read through its `objects`.
        model: type[Any],
        fingerprint_field: str = "fingerprint",
        embedder: Embedder | None = None,
        loader: Loader | None = None,
        # Read at each build, so a setting can name it (and tests can change it).
        compact_threshold: Callable[[], int] | None = None,
    ) -> None:
        if loader is not None and embedder is not None:
            raise ValueError("a compact index holds no embeddings: give a loader or an embedder, not both")
        self.loader = loader
        self.compact_threshold = compact_threshold
        self.file_name = file_name
        self.model = model
        self.fingerprint_field = fingerprint_field
        self.embedder = embedder
        self._what = model._meta.verbose_name
        self._lock = threading.Lock()
        # Index folder → (the state it reflects, the index). Keyed by folder so tests and
        # instances pointing at different data folders never share an index.
        self._cache: dict[str, tuple[IndexState, NearDuplicateIndex]] = {}

    def path(self) -> Path:
        return index_dir() / self.file_name

    def _index_options(self) -> dict[str, Any]:
        if self.loader is None:
            return {"embedding_ann_threshold": _ann_threshold()}
        return {"loader": self.loader, "compact_threshold": self.compact_threshold() if self.compact_threshold else 0}

    def _embedding_model(self) -> str:
        return self.embedder.version() if self.embedder is not None else ""

    def _vectors(self, keys: list[str], model: str) -> dict[str, np.ndarray]:
        return self.embedder.vectors(keys) if self.embedder is not None and model and keys else {}

    def current_state(self) -> IndexState:
        count = self.model.objects.count()
        latest = self.model.objects.order_by("-created_at", "-pk").values_list("pk", "created_at").first()
        if latest is None:
            return IndexState(0, "", "", self._embedding_model())
        return IndexState(count, str(latest[0]), latest[1].isoformat(), self._embedding_model())

    def _from_database(self) -> tuple[IndexState, NearDuplicateIndex]:
        # The state is read before the rows: a row added in between makes the index look stale
        # next time (one extra rebuild), never fresh while missing a row.
        state = self.current_state()
        rows = self.model.objects.order_by("created_at", "pk").values_list("pk", self.fingerprint_field).iterator(chunk_size=500)
        if self.loader is not None:
            # Streamed: a compact index never holds every full fingerprint at once.
            return state, NearDuplicateIndex.rebuild(_decoded(rows, self._what), **self._index_options())
        items = list(_decoded(rows, self._what))
        vectors = self._vectors([key for key, _ in items], state.embedding_model)
        return state, NearDuplicateIndex.rebuild(
            items, embeddings=vectors, embedding_model=state.embedding_model, **self._index_options()
        )

    def _save(self, path: Path, state: IndexState, index: NearDuplicateIndex) -> None:
        """The index files first, then their metadata naming the files' hashes: a crash between
        the writes leaves metadata that does not match the files, which reads as stale and is rebuilt."""
        index.save(path)
        meta = {
            **asdict(state),
            "index_sha256": _sha256(path),
            "embeddings_sha256": _sha256_if_present(embeddings_path(path)),
            "index_version": INDEX_VERSION,
            "fingerprint_version": FINGERPRINT_VERSION,
        }
        _write_json_atomically(_meta_path(path), meta)

    def _load(self, path: Path, state: IndexState) -> NearDuplicateIndex | None:
        """The saved index if it is intact and reflects `state`, else None."""
        try:
            meta = json.loads(_meta_path(path).read_text())
            if (
                meta.get("index_version") != INDEX_VERSION
                or meta.get("fingerprint_version") != FINGERPRINT_VERSION
                or _state_of(meta) != state
                or meta.get("index_sha256") != _sha256(path)
                or meta.get("embeddings_sha256") != _sha256_if_present(embeddings_path(path))
            ):
                return None
            index = NearDuplicateIndex.load(path, **self._index_options())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.info("%s index at %s is unusable (%s); rebuilding", self._what, path, exc)
            return None
        return index if state.held_by(index) else None

    def get(self) -> NearDuplicateIndex:
        path = self.path()
        state = self.current_state()
        with self._lock:
            cached = self._cache.get(str(path))
            if cached is not None and cached[0] == state:
                return cached[1]
            index = self._load(path, state)
            if index is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                with _file_lock(path):
                    index = self._load(path, state)  # another process may have just rebuilt it
                    if index is None:
                        state, index = self._from_database()
                        self._save(path, state, index)
            self._cache[str(path)] = (state, index)
            return index

    def add(self, rows: list[tuple[object, bytes]]) -> None:
        """Add committed rows `(key, fingerprint bytes)` to the index and save it. Call after
        commit: the saved metadata names the database's state, which must already include them."""
        if not rows:
            return
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, _file_lock(path):
            cached = self._cache.get(str(path))
            base = cached[1] if cached is not None else self._load(path, self._file_state(path))
            index = None
            model = self._embedding_model()
            if base is not None and base.embedding_model == model:
                # Copy on write: other threads may be querying the cached index right now.
                index = base.copy()
                added = [(key, fp) for key, fp in _decoded(rows, self._what) if key not in base]
                index.add_many(added, embeddings=self._vectors([key for key, _ in added], model))
            state = self.current_state()
            if index is None or not state.held_by(index):
                # Someone else added rows meanwhile, or there was no usable index: start over.
                state, index = self._from_database()
            self._save(path, state, index)
            self._cache[str(path)] = (state, index)

    def _file_state(self, path: Path) -> IndexState:
        """The state the file on disk claims to reflect (a placeholder that matches nothing if none)."""
        try:
            return _state_of(json.loads(_meta_path(path).read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return IndexState(-1, "", "")

    def forget(self) -> None:
        """Drop the in-process copies (a restart, as far as this process is concerned)."""
        with self._lock:
            self._cache.clear()
