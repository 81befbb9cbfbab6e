"""The process-wide near-duplicate index of protected works, persisted beside the data.

The file `<CLEANROOM_INDEX_DIR>/protected.idx` holds every work's fingerprint, with its metadata
beside it; auditing/similarity/store.py keeps it in step with the database (rebuilt when missing,
stale or corrupt, saved atomically). Where an open_clip model is configured
(settings.CLEANROOM_EMBEDDINGS), `protected.idx.emb` beside it holds the works' image
embeddings: those stored with the works, and, for works added before that model was configured,
embeddings computed from their stored bytes while the index is rebuilt (and stored with them).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from auditing.models import ProtectedWork
from auditing.similarity.embeddings import candidate_embeddings, vector_from_bytes, vector_to_bytes
from auditing.similarity.near_duplicate import NearDuplicateIndex, has_features
from auditing.similarity.store import IndexState, PersistedIndex, index_dir
from core.storage import blob_open
from provenance.ingest.inspect import sniff_and_decode
from provenance.services.ingest import ingest_limits

logger = logging.getLogger(__name__)
INDEX_NAME = "protected.idx"
# Works read per query and embedded per model call: bounds the images decoded at once.
_BATCH = 16


class ProtectedWorkEmbedder:
    """The works' embeddings by the configured model (index_store.Embedder)."""

    def version(self) -> str:
        embeddings = candidate_embeddings()
        return embeddings.version if embeddings is not None else ""

    def vectors(self, keys: list[str]) -> dict[str, np.ndarray]:
        embeddings = candidate_embeddings()
        if embeddings is None:
            return {}
        found: dict[str, np.ndarray] = {}
        missing: list[tuple[str, str]] = []
        for start in range(0, len(keys), 500):
            rows = ProtectedWork.objects.filter(pk__in=keys[start : start + 500]).values_list(
                "pk", "embedding", "embedding_model", "sha256", "width", "height"
            )
            for pk, vector, model, sha256, width, height in rows:
                if vector is not None and model == embeddings.version:
                    found[str(pk)] = vector_from_bytes(vector)
                elif has_features(width, height):  # a thin work is matched on its hashes alone
                    missing.append((str(pk), sha256))
        if missing:
            logger.info("embedding %d protected works with %s", len(missing), embeddings.version)
        image_limits, _ = ingest_limits()
        for start in range(0, len(missing), _BATCH):
            batch = []
            for key, sha256 in missing[start : start + _BATCH]:
                try:
                    with blob_open(sha256) as handle:
                        batch.append((key, sniff_and_decode(handle, image_limits)))
                except Exception as exc:
                    logger.warning("protected work %s cannot be embedded: %s: %s", key, type(exc).__name__, exc)
            if not batch:
                continue
            vectors = embeddings.model.embed([image for _, image in batch])
            for (key, image), vector in zip(batch, vectors, strict=True):
                image.close()
                ProtectedWork.objects.filter(pk=key).update(embedding=vector_to_bytes(vector), embedding_model=embeddings.version)
                found[key] = vector
        return found


_store = PersistedIndex(file_name=INDEX_NAME, model=ProtectedWork, embedder=ProtectedWorkEmbedder())

__all__ = [
    "INDEX_NAME",
    "IndexState",
    "current_state",
    "index_dir",
    "index_path",
    "protected_index",
    "protected_index_forget",
    "protected_index_sync",
]


def index_path() -> Path:
    return _store.path()


def current_state() -> IndexState:
    return _store.current_state()


def protected_index() -> NearDuplicateIndex:
    """The index of every protected work, keyed by work id: cached in the process, else read
    from its file, else rebuilt from the database (and the file rewritten)."""
    return _store.get()


def protected_index_sync() -> None:
    """Add works just committed (and any other process's since) to this process's index, in
    place; the file is rewritten only now and then (auditing/similarity/store.py)."""
    _store.sync()


def protected_index_forget() -> None:
    """Drop the in-process copies (a restart, as far as this process is concerned)."""
    _store.forget()
