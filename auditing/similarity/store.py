"""A process-wide near-duplicate index over one table's fingerprints, persisted beside the data.

Used for the protected works (auditing/services/protected_index.py) and for generated outputs
(generation/output_index.py). The file `<CLEANROOM_INDEX_DIR>/<name>` holds every row's
fingerprint; `<name>.meta.json` beside it records what the file was built from (row count, the
latest row's key and timestamp) and the file's sha256. The database is the truth.

Rows are added, not rewritten: a process keeps its index level with the table by adding, in
place, the rows created since its latest (`sync` after a commit, and every `get` that finds
the table's latest row changed), so a release costs its own rows, not the index's size; the
table's rows are counted against the index every `RECOUNT_SECONDS`. The file lags and
is rewritten now and then (`SAVE_AFTER_ROWS`, `SAVE_AFTER_SHARE`); a process start reads it and
catches up from the table. An index that cannot be brought level that way (a missing or
corrupt file, a crash between the two writes, rows deleted, another embedding model) is rebuilt
from the fingerprints in the table and saved again, atomically.

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
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from django.conf import settings

from auditing.similarity.compact import Loader
from auditing.similarity.near_duplicate import FINGERPRINT_VERSION, INDEX_VERSION, Fingerprint, NearDuplicateIndex
from auditing.similarity.vectors import embeddings_path

logger = logging.getLogger(__name__)

# A row's `created_at` is taken before its transaction commits, so a row committed late can be
# older than rows already caught up on: catching up looks back this far before the latest row
# held and adds whatever the index lacks.
CATCH_UP_LOOKBACK = timedelta(minutes=10)
# The file is rewritten once the index holds this many rows more than it, and this share of
# its size more: a process start catches up on at most that many rows from the table.
SAVE_AFTER_ROWS = 1_000
SAVE_AFTER_SHARE = 0.02
# Each look at the table reads its latest row (an index lookup); counting its rows (~50 ms at
# 1M, linear) is done this often: it finds what the latest row cannot show (a row committed
# late when no other followed, rows deleted or added with old times).
RECOUNT_SECONDS = 30.0
_CATCH_UP_ROUNDS = 3
_CATCH_UP_BATCH = 500


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


@dataclass
class _Held:
    """A process's index: what it holds (its row count, the table's latest row it was last seen
    level with), the latest `created_at` among its rows (where catching up starts), how many
    rows its file holds, and when the table's rows were last counted against it."""

    state: IndexState
    index: NearDuplicateIndex
    caught_up_to: datetime | None
    saved_count: int
    counted_at: float = field(default_factory=time.monotonic)

    def latest(self) -> tuple[str, str]:
        return self.state.latest_id, self.state.latest_created_at

    def stale_model(self, configured: str) -> bool:
        return self.index.embedding_model != configured

    def recount_due(self) -> bool:
        return time.monotonic() - self.counted_at >= RECOUNT_SECONDS

    def save_due(self) -> bool:
        behind = len(self.index) - self.saved_count
        return behind >= max(SAVE_AFTER_ROWS, SAVE_AFTER_SHARE * self.saved_count)


def _parsed(timestamp: str) -> datetime | None:
    return datetime.fromisoformat(timestamp) if timestamp else None


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
        # Index file → what this process holds of it. Keyed by path so tests and instances
        # pointing at different data folders never share an index.
        self._cache: dict[str, _Held] = {}

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
        return IndexState(count, *self._latest(), self._embedding_model())

    def _latest(self) -> tuple[str, str]:
        """The table's latest row: its key and `created_at` (empty strings for an empty table)."""
        latest = self.model.objects.order_by("-created_at", "-pk").values_list("pk", "created_at").first()
        return (str(latest[0]), latest[1].isoformat()) if latest is not None else ("", "")

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

    def _load(self, path: Path) -> _Held | None:
        """The saved index if its files are intact, of this code's versions and of the configured
        embedding model, whatever rows it is behind the table; else None."""
        try:
            meta = json.loads(_meta_path(path).read_text())
            saved = _state_of(meta)
            if (
                meta.get("index_version") != INDEX_VERSION
                or meta.get("fingerprint_version") != FINGERPRINT_VERSION
                or saved.embedding_model != self._embedding_model()
                or meta.get("index_sha256") != _sha256(path)
                or meta.get("embeddings_sha256") != _sha256_if_present(embeddings_path(path))
            ):
                return None
            index = NearDuplicateIndex.load(path, **self._index_options())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.info("%s index at %s is unusable (%s); rebuilding", self._what, path, exc)
            return None
        if not saved.held_by(index):
            return None
        return _Held(saved, index, _parsed(saved.latest_created_at), saved_count=saved.count)

    def get(self) -> NearDuplicateIndex:
        """The index, level with the table: the process's own, else the saved file's, caught up
        with the rows added since; rebuilt from the table only when neither can be."""
        return self._level(save=False).index

    def sync(self) -> None:
        """Catch the index up with rows just committed (call after commit), and rewrite its file
        once it lags the index by `SAVE_AFTER_ROWS` rows and `SAVE_AFTER_SHARE` of its size:
        at volume a release adds its rows in place, it does not rewrite the file."""
        self._level(save=True)

    def _level(self, *, save: bool) -> _Held:
        path = self.path()
        latest = self._latest()
        with self._lock:
            held = self._cache.get(str(path))
            if held is None or held.latest() != latest or held.recount_due() or held.stale_model(self._embedding_model()):
                held = self._caught_up(path, held)
                self._cache[str(path)] = held
            if save and held.save_due():
                self._save_if_fresher(path, held)
            return held

    def _caught_up(self, path: Path, held: _Held | None) -> _Held:
        if held is not None and not held.stale_model(self._embedding_model()):
            level = self._catch_up(held, recount=held.recount_due())
            if level is not None:
                return level
        loaded = self._load(path)
        level = self._catch_up(loaded, recount=True) if loaded is not None else None
        if level is not None:
            return level
        path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(path):
            loaded = self._load(path)  # another process may have just rebuilt it
            level = self._catch_up(loaded, recount=True) if loaded is not None else None
            if level is not None:
                return level
            state, index = self._from_database()
            self._save(path, state, index)
            index.prepare_search()
            return _Held(state, index, _parsed(state.latest_created_at), saved_count=state.count)

    def _catch_up(self, held: _Held, *, recount: bool) -> _Held | None:
        """`held` with the table's rows it lacks added in place: those created since its latest
        row, looking back `CATCH_UP_LOOKBACK` for rows committed late. With `recount`, the
        table's rows are counted too. None when that does not make it level with the table (rows
        deleted, or added with old times, or no end to a burst of adds): then it is rebuilt."""
        index, since = held.index, held.caught_up_to
        for _ in range(_CATCH_UP_ROUNDS):
            # Read before the rows: a row committed in between is added, and looked for next round.
            count = self.model.objects.count() if recount else None
            latest_id, latest_created_at = self._latest()
            rows = self.model.objects.all()
            if since is not None:
                rows = rows.filter(created_at__gte=since - CATCH_UP_LOOKBACK)
            recent = list(rows.values_list("pk", "created_at"))
            missing = [key for key, _ in recent if str(key) not in index]
            for start in range(0, len(missing), _CATCH_UP_BATCH):
                fetched = self.model.objects.filter(pk__in=missing[start : start + _CATCH_UP_BATCH])
                items = list(_decoded(fetched.values_list("pk", self.fingerprint_field), self._what))
                index.add_many(items, embeddings=self._vectors([key for key, _ in items], index.embedding_model))
            since = max([created for _, created in recent], default=since)
            if missing:
                logger.debug("%s index caught up on %d rows", self._what, len(missing))
            state = IndexState(len(index), latest_id, latest_created_at, index.embedding_model)
            if (not latest_id or latest_id in index) and count in (None, len(index)):
                index.prepare_search()
                counted_at = time.monotonic() if recount else held.counted_at
                return _Held(state, index, since, held.saved_count, counted_at)
            if count is not None and len(index) > count and not missing:
                return None  # rows left the table
        return None

    def _save_if_fresher(self, path: Path, held: _Held) -> None:
        """Rewrite the file from `held`, unless another process saved one at least as full."""
        with _file_lock(path):
            on_disk = self._file_state(path).count
            if on_disk < held.state.count:
                self._save(path, held.state, held.index)
                on_disk = held.state.count
            held.saved_count = on_disk

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
