"""The protected-works registry: copyrighted works that training data must not copy.

Files are read by the same candidate source and sniffing as ingest (loose files, folders, ZIP
archives; hostile input refused with a reason, never a crash). A work's bytes are stored
content-addressed like an asset's, but a protected work is never an Asset: it cannot join a
dataset, a snapshot or a training run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from auditing.models import ProtectedWork
from auditing.services.protected_index import protected_index_sync
from auditing.similarity.embeddings import CandidateEmbeddings, candidate_embeddings, vector_to_bytes
from auditing.similarity.near_duplicate import fingerprint_image, has_features
from core.audit import actor_name, audit_append
from core.exceptions import ApplicationError
from core.models import EventType
from core.roles import Actor
from core.storage import blob_put_stream
from provenance.ingest.inspect import Limits, sniff_and_decode
from provenance.ingest.refusals import FileRefusal, RefusalReason, Refused, plain_error
from provenance.ingest.sources import Candidate, CandidateSource
from provenance.services.ingest import ingest_limits

logger = logging.getLogger(__name__)


@dataclass
class ProtectedAddition:
    """What `protected_add` did: each work it registered (with the path it came from), and
    each file it refused with the reason (`duplicate` for bytes already registered)."""

    added: list[tuple[str, ProtectedWork]] = field(default_factory=list)
    refused: list[FileRefusal] = field(default_factory=list)


def protected_add(*, paths: list[str], owner: str, reference: str = "", actor: Actor = None) -> ProtectedAddition:
    """Register every readable image under `paths` as a protected work of `owner`.

    Each work is its own transaction with its audit event; the persistent index is updated once
    the works are committed. Where an embedding model is configured, each work's embedding is
    stored with it (a model that cannot load refuses the whole call before any file).
    """
    if not owner.strip():
        raise ApplicationError("a protected work needs an owner", code="owner_required")
    embeddings = ready_embeddings()
    image_limits, archive_limits = ingest_limits()
    outcome = ProtectedAddition()
    seen: dict[str, str] = {}
    for candidate in CandidateSource(archive_limits).candidates(paths):
        try:
            work = _add_one(
                candidate, owner=owner, reference=reference, actor=actor, limits=image_limits, seen=seen, embeddings=embeddings
            )
        except Refused as exc:
            outcome.refused.append(FileRefusal(path=candidate.path, reason=exc.reason, detail=exc.detail))
            continue
        finally:
            candidate.close()
        outcome.added.append((candidate.path, work))
    if outcome.added:
        transaction.on_commit(protected_index_sync)
    return outcome


def ready_embeddings() -> CandidateEmbeddings | None:
    """The configured embedding stage with its model loaded, or None; a configuration error is
    an ApplicationError naming it."""
    try:
        embeddings = candidate_embeddings()
        if embeddings is not None:
            embeddings.model.load()
    except ImproperlyConfigured as exc:
        raise ApplicationError(str(exc), code="embedding_model_unavailable") from None
    return embeddings


def _add_one(
    candidate: Candidate,
    *,
    owner: str,
    reference: str,
    actor: Actor,
    limits: Limits,
    seen: dict[str, str],
    embeddings: CandidateEmbeddings | None,
) -> ProtectedWork:
    if candidate.refusal is not None or candidate.file is None:
        raise Refused(*(candidate.refusal or (RefusalReason.INVALID_IMAGE, "no file")))
    sha256 = candidate.sha256
    if sha256 in seen:
        raise Refused(RefusalReason.DUPLICATE, f"same bytes as {seen[sha256]} earlier in this batch")
    existing = ProtectedWork.objects.filter(sha256=sha256).values_list("pk", flat=True).first()
    if existing is not None:
        raise Refused(RefusalReason.DUPLICATE, f"already registered as protected work {existing}")
    image = sniff_and_decode(candidate.file, limits)
    embedding = None
    try:
        fingerprint = fingerprint_image(image)
        if embeddings is not None and has_features(fingerprint.width, fingerprint.height):
            embedding = vector_to_bytes(embeddings.embed(image))
    except Exception as exc:
        logger.exception("fingerprinting %s failed", candidate.path)
        raise Refused(
            RefusalReason.INVALID_IMAGE, f"could not be fingerprinted: {type(exc).__name__}: {plain_error(exc)}"
        ) from None
    finally:
        image_format = image.format or ""
        image.close()
    blob_put_stream(candidate.file, sha256=sha256)
    try:
        with transaction.atomic():
            work = ProtectedWork.objects.create(
                owner=owner,
                reference=reference,
                sha256=sha256,
                size=candidate.size,
                format=image_format,
                width=fingerprint.width,
                height=fingerprint.height,
                fingerprint=fingerprint.to_bytes(),
                embedding=embedding,
                embedding_model=embeddings.version if embedding is not None and embeddings is not None else "",
                created_by=actor_name(actor),
            )
            audit_append(
                actor=actor,
                event_type=EventType.PROTECTED_WORK_ADDED,
                subject=work,
                details={"sha256": sha256, "owner": owner, "reference": reference, "path": candidate.path},
            )
    except IntegrityError:
        raise Refused(RefusalReason.DUPLICATE, "the same bytes were registered concurrently") from None
    seen[sha256] = candidate.path
    return work
