"""The output registry's search index: every released output's fingerprint, persisted beside the
data (`<CLEANROOM_INDEX_DIR>/outputs.idx`) and kept in step with the OutputFingerprint table the
same way as the protected-works index (auditing/similarity/store.py: rebuilt when missing, stale or
corrupt; saved atomically). Above `CLEANROOM_OUTPUT_INDEX_COMPACT_THRESHOLD` outputs it is compact
(auditing/similarity/compact.py): the fingerprints of the candidates a search verifies are read
from the OutputFingerprint table, by key, in one query.

    for output_id, match in output_index_search(image):
        match.inliers, match.method, match.transforms  # ("crop",), ("flip",), ...
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from PIL import Image

from auditing.similarity.near_duplicate import Fingerprint, Match, NearDuplicateIndex, fingerprint_image
from auditing.similarity.store import PersistedIndex
from generation.models import OutputFingerprint

INDEX_NAME = "outputs.idx"


def output_fingerprints(keys: list[str]) -> dict[str, Fingerprint]:
    """The stored fingerprints of these outputs, by output id, in one query (unreadable ones and
    unknown ids left out): what a compact index verifies its candidates against."""
    rows = OutputFingerprint.objects.filter(pk__in=keys).values_list("pk", "fingerprint")
    found = {}
    for key, raw in rows:
        try:
            found[str(key)] = Fingerprint.from_bytes(bytes(raw))
        except ValueError:
            continue  # of another version: the rebuild that follows a version change logs it
    return found


def _compact_threshold() -> int:
    return int(settings.CLEANROOM_OUTPUT_INDEX_COMPACT_THRESHOLD)


_store = PersistedIndex(
    file_name=INDEX_NAME, model=OutputFingerprint, loader=output_fingerprints, compact_threshold=_compact_threshold
)


def output_index_path() -> Path:
    return _store.path()


def output_index() -> NearDuplicateIndex:
    """Every registered output's fingerprint, keyed by output id."""
    return _store.get()


def output_index_sync() -> None:
    """Add fingerprints just committed (and any other process's since) to this process's index,
    in place; the file is rewritten only now and then (auditing/similarity/store.py)."""
    _store.sync()


def output_index_forget() -> None:
    """Drop the in-process copies (a restart, as far as this process is concerned)."""
    _store.forget()


def output_index_search(image: Image.Image, *, k: int = 5) -> list[tuple[str, Match]]:
    """Registered outputs that `image` is a copy of (re-encoded, resized, cropped, flipped...),
    best first: `(output_id, match)`, where `match.inliers` is how many keypoints agree on one
    homography (0 with `method == "hash"` for images too smooth for keypoints). Unrelated
    images give an empty list."""
    fingerprint = fingerprint_image(image)
    return [(match.key, match) for match in output_index().query(fingerprint, k=k)]
