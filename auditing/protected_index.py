"""The process-wide near-duplicate index of protected works, persisted beside the data.

The file `<CLEANROOM_INDEX_DIR>/protected.idx` holds every work's fingerprint;
`protected.idx.meta.json` beside it records what the file was built from (work count, the latest
work's id and timestamp) and the file's sha256. The database is the truth: an index whose
metadata disagrees with it (missing, stale, corrupt, or a crash between the two writes) is
rebuilt from the fingerprints in the table and saved again, atomically.
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
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings

from auditing.detectors.near_duplicate import FINGERPRINT_VERSION, INDEX_VERSION, Fingerprint, NearDuplicateIndex
from auditing.models import ProtectedWork

logger = logging.getLogger(__name__)
INDEX_NAME = "protected.idx"

_lock = threading.Lock()
# Index folder → (the state it reflects, the index). Keyed by folder so tests and instances
# pointing at different data folders never share an index.
_cache: dict[str, tuple[IndexState, NearDuplicateIndex]] = {}


@dataclass(frozen=True)
class IndexState:
    """What the index must hold: as many works as the table, the latest among them."""

    count: int
    latest_id: str
    latest_created_at: str

    def held_by(self, index: NearDuplicateIndex) -> bool:
        return len(index) == self.count and (not self.latest_id or self.latest_id in index)


def index_dir() -> Path:
    return Path(getattr(settings, "CLEANROOM_INDEX_DIR", None) or Path(settings.DATA_DIR) / "indexes")


def index_path() -> Path:
    return index_dir() / INDEX_NAME


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def current_state() -> IndexState:
    count = ProtectedWork.objects.count()
    latest = ProtectedWork.objects.order_by("-created_at", "-id").values_list("id", "created_at").first()
    if latest is None:
        return IndexState(0, "", "")
    return IndexState(count, str(latest[0]), latest[1].isoformat())


def _decoded(rows: Iterable[tuple[object, bytes]]) -> Iterator[tuple[str, Fingerprint]]:
    for work_id, raw in rows:
        try:
            yield str(work_id), Fingerprint.from_bytes(bytes(raw))
        except ValueError as exc:
            # A fingerprint of another version cannot be compared; it must be recomputed.
            logger.warning("protected work %s has an unreadable fingerprint: %s", work_id, exc)


def _from_database() -> tuple[IndexState, NearDuplicateIndex]:
    # The state is read before the rows: a work added in between makes the index look stale
    # next time (one extra rebuild), never fresh while missing a work.
    state = current_state()
    rows = ProtectedWork.objects.order_by("created_at", "id").values_list("id", "fingerprint").iterator(chunk_size=500)
    return state, NearDuplicateIndex.rebuild(_decoded(rows))


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
    """Serialise writers across processes (several audit workers on one data folder)."""
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _save(path: Path, state: IndexState, index: NearDuplicateIndex) -> None:
    """The index file first, then its metadata naming the file's hash: a crash between the two
    leaves metadata that does not match the file, which reads as stale and is rebuilt."""
    index.save(path)
    meta = {
        **asdict(state),
        "index_sha256": _sha256(path),
        "index_version": INDEX_VERSION,
        "fingerprint_version": FINGERPRINT_VERSION,
    }
    _write_json_atomically(_meta_path(path), meta)


def _load(path: Path, state: IndexState) -> NearDuplicateIndex | None:
    """The saved index if it is intact and reflects `state`, else None."""
    try:
        meta = json.loads(_meta_path(path).read_text())
        if (
            meta.get("index_version") != INDEX_VERSION
            or meta.get("fingerprint_version") != FINGERPRINT_VERSION
            or IndexState(meta["count"], meta["latest_id"], meta["latest_created_at"]) != state
            or meta.get("index_sha256") != _sha256(path)
        ):
            return None
        index = NearDuplicateIndex.load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.info("protected-works index at %s is unusable (%s); rebuilding", path, exc)
        return None
    return index if state.held_by(index) else None


def protected_index() -> NearDuplicateIndex:
    """The index of every protected work, keyed by work id: cached in the process, else read
    from its file, else rebuilt from the database (and the file rewritten)."""
    path = index_path()
    state = current_state()
    with _lock:
        cached = _cache.get(str(path))
        if cached is not None and cached[0] == state:
            return cached[1]
        index = _load(path, state)
        if index is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with _file_lock(path):
                index = _load(path, state)  # another process may have just rebuilt it
                if index is None:
                    state, index = _from_database()
                    _save(path, state, index)
        _cache[str(path)] = (state, index)
        return index


def protected_index_add(works: list[ProtectedWork]) -> None:
    """Add committed works to the index and save it. Call after commit: the saved metadata
    names the database's state, which must already include these works."""
    if not works:
        return
    path = index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock, _file_lock(path):
        cached = _cache.get(str(path))
        base = cached[1] if cached is not None else _load(path, _file_state(path))
        index = None
        if base is not None:
            # Copy on write: other threads may be querying the cached index right now.
            held = [(key, base.fingerprint(key)) for key in base.keys()]
            added = [(key, fp) for key, fp in _decoded((work.pk, work.fingerprint) for work in works) if key not in base]
            index = NearDuplicateIndex.rebuild([*held, *added])
        state = current_state()
        if index is None or not state.held_by(index):
            # Someone else added works meanwhile, or there was no usable index: start over.
            state, index = _from_database()
        _save(path, state, index)
        _cache[str(path)] = (state, index)


def _file_state(path: Path) -> IndexState:
    """The state the file on disk claims to reflect (a placeholder that matches nothing if none)."""
    try:
        meta = json.loads(_meta_path(path).read_text())
        return IndexState(meta["count"], meta["latest_id"], meta["latest_created_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return IndexState(-1, "", "")


def protected_index_forget() -> None:
    """Drop the in-process copies (a restart, as far as this process is concerned)."""
    with _lock:
        _cache.clear()
