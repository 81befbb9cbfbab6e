"""The output registry's search index: every released output's fingerprint, persisted beside the
data (`<CLEANROOM_INDEX_DIR>/outputs.idx`) and kept in step with the OutputFingerprint table the
same way as the protected-works index (auditing/similarity/store.py: rebuilt when missing, stale or
corrupt; saved atomically).

    for output_id, match in output_index_search(image):
        match.inliers, match.method, match.transforms  # ("crop",), ("flip",), ...
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from auditing.similarity.near_duplicate import Match, NearDuplicateIndex, fingerprint_image
from auditing.similarity.store import PersistedIndex
from generation.models import OutputFingerprint

INDEX_NAME = "outputs.idx"
_store = PersistedIndex(file_name=INDEX_NAME, model=OutputFingerprint)


def output_index_path() -> Path:
    return _store.path()


def output_index() -> NearDuplicateIndex:
    """Every registered output's fingerprint, keyed by output id."""
    return _store.get()


def output_index_add(entries: list[OutputFingerprint]) -> None:
    """Add committed fingerprints to the index and save it (call after commit)."""
    _store.add([(entry.pk, entry.fingerprint) for entry in entries])


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
