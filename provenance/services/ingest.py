"""Ingest: every file gets an `accepted` or a `refused` row; one bad file never sinks the batch.

Accepted files are committed in small groups (at most FLUSH_EVERY files or FLUSH_SECONDS), each
group one transaction with its audit events, and the pending group is committed before the
batch ends whatever happens, so nothing accepted is lost if a later file fails. A row is only
reported accepted once it is committed.

No file is held whole in memory: each candidate is a file (on disk, or a small archive member
in memory) hashed as it was read; the image is decoded only within the decoded-bytes budget,
the metadata readers scan the file in chunks, and the blob store copies it in chunks.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from tqdm import tqdm

from core.audit import AuditEntry, actor_name, audit_append, audit_append_many
from core.db import connection_lost, retry_on_lost_connection
from core.exceptions import PermissionDenied
from core.models import EventType
from core.roles import Actor, Role, has_role
from core.storage import blob_put_stream
from provenance import hooks
from provenance.ingest.filebytes import FileBytes
from provenance.ingest.inspect import Limits, inspect_image
from provenance.ingest.metadata import extract_metadata
from provenance.ingest.optout import DoNotTrainList, find_embedded_optout
from provenance.ingest.refusals import RefusalReason, Refused, plain_error
from provenance.ingest.sources import ArchiveLimits, Candidate, CandidateSource
from provenance.models import Asset, ConsentRecord, Contributor, Dataset, DatasetMembership, IngestBatch, IngestItem, Source
from provenance.selectors import consent_gap, consent_state
from provenance.services.consent import consent_grant, read_consent_file
from provenance.services.contributors import contributor_get, source_get_or_create
from provenance.services.datasets import dataset_enrol_for_ingest, dataset_for_ingest
from provenance.services.thumbnails import thumbnails_request

logger = logging.getLogger(__name__)
FLUSH_EVERY = 250
FLUSH_SECONDS = 2.0
# Duplicate lookups are asked for a few files at once (one round trip), bounded in bytes held
# open (small archive members are held in memory).
LOOKUP_FILES = 32
LOOKUP_BYTES = 8 * 1024 * 1024


def ingest_limits() -> tuple[Limits, ArchiveLimits]:
    config = settings.CLEANROOM_INGEST
    image_limits = Limits(
        max_file_bytes=config["MAX_FILE_BYTES"],
        max_image_pixels=config["MAX_IMAGE_PIXELS"],
        max_decoded_bytes=config["MAX_DECODED_BYTES"],
        allowed_formats=tuple(config["ALLOWED_FORMATS"]),
    )
    archive_limits = ArchiveLimits(
        max_file_bytes=config["MAX_FILE_BYTES"],
        max_members=config["ZIP_MAX_MEMBERS"],
        max_total_bytes=config["ZIP_MAX_TOTAL_BYTES"],
        max_ratio=config["ZIP_MAX_RATIO"],
        max_depth=config["ZIP_MAX_DEPTH"],
        max_caption_chars=config["MAX_CAPTION_CHARS"],
    )
    return image_limits, archive_limits


@dataclass
class _Batch:
    batch: IngestBatch
    dataset: Dataset
    contributor: Contributor
    consent: ConsentRecord
    source: Source | None
    actor: Actor
    consent_problem: str | None
    do_not_train: DoNotTrainList
    limits: Limits
    seen: dict[str, str]
    accepted: int = 0
    refused: int = 0
    refused_reasons: set[str] = field(default_factory=set)
    existing: dict[str, str] = field(default_factory=dict)
    pending: list[_Pending] = field(default_factory=list)
    pending_refusals: list[IngestItem] = field(default_factory=list)
    flushed_at: float = field(default_factory=time.monotonic)


@dataclass
class _Pending:
    position: int
    path: str
    asset: Asset


def ingest_paths(
    *,
    paths: list[str],
    dataset_slug: str,
    contributor_email: str,
    consent_path: str,
    licence: str = "",
    source_url: str = "",
    actor: Actor = None,
    progress: bool = False,
) -> IngestBatch:
    """The `ingest` command: files, folders and ZIP archives under one consent file. Returns the
    batch; its items say what became of each file (`IngestResultSerializer` renders them)."""
    dataset = dataset_for_ingest(slug=dataset_slug, contributor_email=contributor_email, actor=actor)
    contributor = contributor_get(email=contributor_email)
    document, open_evidence = read_consent_file(consent_path)
    consent, _ = consent_grant(document=document, contributor=contributor, open_evidence=open_evidence, actor=actor)
    source = source_get_or_create(url=source_url, licence_spdx=licence)
    dataset_enrol_for_ingest(dataset=dataset, contributor=contributor, actor=actor)
    _, archive_limits = ingest_limits()
    candidates = CandidateSource(archive_limits)
    total = candidates.count(paths) if progress else None
    return ingest_candidates(
        candidates=candidates.candidates(paths),
        dataset=dataset,
        contributor=contributor,
        consent=consent,
        source=source,
        actor=actor,
        progress_total=total,
        progress=progress,
    )


def ingest_uploads(
    *, files: list[tuple[str, BinaryIO]], dataset_slug: str, consent: ConsentRecord, source: Source | None, actor: Actor
) -> IngestBatch:
    """The REST upload: the same pipeline over uploaded files (ZIPs included)."""
    dataset = ingest_upload_target(dataset_slug=dataset_slug, consent=consent, actor=actor)
    _, archive_limits = ingest_limits()
    return ingest_candidates(
        candidates=CandidateSource(archive_limits).uploads(files),
        dataset=dataset,
        contributor=consent.contributor,
        consent=consent,
        source=source,
        actor=actor,
    )


def ingest_upload_target(*, dataset_slug: str, consent: ConsentRecord, actor: Actor) -> Dataset:
    """Who may upload into what (the REST upload and the portal's): an operator, or the
    contributor whose consent it is, into a dataset they may contribute to. Returns the dataset;
    PermissionDenied or `unknown_dataset` otherwise."""
    if not (has_role(actor, Role.OPERATOR) or (has_role(actor, Role.CONTRIBUTOR) and consent.contributor.user_id == actor.pk)):
        raise PermissionDenied(f"{actor_name(actor)} may not ingest under consent {consent.pk}")
    dataset = dataset_for_ingest(slug=dataset_slug, contributor_email=consent.contributor.email, actor=actor)
    dataset_enrol_for_ingest(dataset=dataset, contributor=consent.contributor, actor=actor)
    return dataset


def ingest_candidates(
    *,
    candidates: Iterable[Candidate],
    dataset: Dataset,
    contributor: Contributor,
    consent: ConsentRecord,
    source: Source | None,
    actor: Actor = None,
    progress: bool = False,
    progress_total: int | None = None,
) -> IngestBatch:
    limits, _ = ingest_limits()
    batch = IngestBatch.objects.create(
        actor=actor_name(actor), dataset=dataset, contributor=contributor, consent=consent, source=source
    )
    state = _Batch(
        batch=batch,
        dataset=dataset,
        contributor=contributor,
        consent=consent,
        source=source,
        actor=actor,
        consent_problem=consent_gap(consent_state(consent), dataset.scopes),
        do_not_train=DoNotTrainList.from_file(settings.CLEANROOM_DO_NOT_TRAIN_FILE),
        limits=limits,
        seen={},
    )
    bar = tqdm(total=progress_total, unit="file", file=sys.stderr, disable=not (progress and sys.stderr.isatty()))
    try:
        with bar:
            for chunk in _lookup_chunks(enumerate(candidates)):
                try:
                    hashes = {c.sha256 for _, c in chunk if c.file is not None}
                    state.existing = retry_on_lost_connection(partial(_existing, hashes), what="ingest lookup")
                    for position, candidate in chunk:
                        try:
                            _ingest_one(state, position, candidate)
                        finally:
                            candidate.close()
                        bar.update(1)
                        if len(state.pending) >= FLUSH_EVERY or time.monotonic() - state.flushed_at > FLUSH_SECONDS:
                            _flush(state)
                finally:
                    for _, candidate in chunk:
                        candidate.close()
    finally:
        _flush(state)
    retry_on_lost_connection(lambda: _finish(state, actor), what="ingest summary")
    return IngestBatch.objects.select_related("consent").get(pk=batch.pk)


def _finish(state: _Batch, actor: Actor) -> None:
    batch, dataset, consent = state.batch, state.dataset, state.consent
    with transaction.atomic():
        IngestBatch.objects.filter(pk=batch.pk).update(
            accepted_count=state.accepted, refused_count=state.refused, finished_at=timezone.now()
        )
        audit_append(
            actor=actor,
            event_type=EventType.INGEST_BATCH,
            subject=batch,
            details={
                "dataset": dataset.slug,
                "consent_id": str(consent.pk),
                "accepted": state.accepted,
                "refused": state.refused,
                "refused_reasons": sorted(state.refused_reasons),
            },
        )


def _existing(hashes: set[str]) -> dict[str, str]:
    found = Asset.objects.filter(sha256__in=hashes).values_list("sha256", "pk")
    return {sha256: str(pk) for sha256, pk in found}


def _refuse(state: _Batch, position: int, path: str, reason: RefusalReason, detail: str, sha256: str = "") -> None:
    state.pending_refusals.append(
        IngestItem(
            batch=state.batch, position=position, path=path, accepted=False, reason=str(reason), detail=detail, sha256=sha256
        )
    )
    state.refused += 1
    state.refused_reasons.add(str(reason))


def _lookup_chunks(numbered: Iterable[tuple[int, Candidate]]) -> Iterator[list[tuple[int, Candidate]]]:
    chunk: list[tuple[int, Candidate]] = []
    held = 0
    for position, candidate in numbered:
        chunk.append((position, candidate))
        held += candidate.size
        if len(chunk) >= LOOKUP_FILES or held >= LOOKUP_BYTES:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def _ingest_one(state: _Batch, position: int, candidate: Candidate) -> None:
    if candidate.refusal is not None or candidate.file is None:
        _refuse(state, position, candidate.path, *(candidate.refusal or (RefusalReason.INVALID_IMAGE, "no file")))
        return
    file, sha256 = candidate.file, candidate.sha256
    try:
        _check_before_decoding(state, sha256)
        inspected = inspect_image(file, state.limits, sha256=sha256)
        content = FileBytes(file, candidate.size)
        try:
            metadata = extract_metadata(inspected.image, content, mime_type=inspected.mime_type)
        finally:
            inspected.image.close()
        signal = find_embedded_optout(metadata, content)
        if signal is not None:
            raise Refused(RefusalReason.OPTOUT, signal.detail)
    except Refused as refused:
        _refuse(state, position, candidate.path, refused.reason, refused.detail, sha256)
        return
    except Exception as exc:
        logger.exception("ingest of %s failed unexpectedly", candidate.path)
        _refuse(
            state,
            position,
            candidate.path,
            RefusalReason.INVALID_IMAGE,
            f"could not be read: {type(exc).__name__}: {plain_error(exc)}",
            sha256,
        )
        return
    blob_put_stream(file, sha256=sha256)
    asset = Asset(
        sha256=sha256,
        size=inspected.size,
        format=inspected.format,
        mime_type=inspected.mime_type,
        width=inspected.width,
        height=inspected.height,
        original_name=_file_name(candidate.path)[:1024],
        caption=candidate.caption,
        phash=inspected.phash,
        dhash=inspected.dhash,
        metadata={**metadata.as_json(), "extension_mismatch": _extension_mismatch(candidate.path, inspected.format)},
        c2pa=metadata.c2pa,
        contributor=state.contributor,
        consent=state.consent,
        source=state.source,
    )
    state.seen[sha256] = candidate.path
    state.pending.append(_Pending(position=position, path=candidate.path, asset=asset))


def _flush(state: _Batch) -> None:
    """Commit the pending group: assets, memberships, items and audit events together."""
    pending, state.pending = state.pending, []
    refusals, state.pending_refusals = state.pending_refusals, []
    state.flushed_at = time.monotonic()
    if refusals:
        retry_on_lost_connection(lambda: IngestItem.objects.bulk_create(refusals), what="ingest refusals")
    if not pending:
        return
    accepted = state.accepted

    def insert_group() -> None:
        # A group cut off by a lost connection rolled back whole: it is inserted again, counted once.
        state.accepted = accepted
        with transaction.atomic():
            _insert(state, pending)

    try:
        retry_on_lost_connection(insert_group, what="ingest")
    except DatabaseError:
        if connection_lost():  # the database stayed away: nothing more can be recorded
            raise
        # Retry one by one so that only the file at fault is refused: another ingest committed
        # the same bytes meanwhile, or the database will not take something in this file.
        for item in pending:
            try:
                with transaction.atomic():
                    _insert(state, [item])
            except IntegrityError:
                state.seen.pop(item.asset.sha256, None)
                _refuse(
                    state,
                    item.position,
                    item.path,
                    RefusalReason.DUPLICATE,
                    "the same bytes were ingested concurrently",
                    item.asset.sha256,
                )
            except DatabaseError as exc:
                logger.exception("recording %s failed", item.path)
                state.seen.pop(item.asset.sha256, None)
                _refuse(
                    state,
                    item.position,
                    item.path,
                    RefusalReason.INVALID_IMAGE,
                    f"could not be recorded: {exc}".strip()[:500],
                    item.asset.sha256,
                )
        refused, state.pending_refusals = state.pending_refusals, []
        retry_on_lost_connection(lambda: IngestItem.objects.bulk_create(refused), what="ingest refusals")


def _insert(state: _Batch, pending: list[_Pending]) -> None:
    assets = Asset.objects.bulk_create([item.asset for item in pending])
    DatasetMembership.objects.bulk_create(DatasetMembership(dataset=state.dataset, asset=asset) for asset in assets)
    IngestItem.objects.bulk_create(
        IngestItem(
            batch=state.batch, position=item.position, path=item.path, accepted=True, sha256=item.asset.sha256, asset=item.asset
        )
        for item in pending
    )
    audit_append_many(
        [
            AuditEntry(
                actor=state.actor,
                event_type=EventType.ASSET_INGESTED,
                subject=item.asset,
                details={
                    "sha256": item.asset.sha256,
                    "path": item.path,
                    "dataset": state.dataset.slug,
                    "consent_id": str(state.consent.pk),
                    "batch_id": str(state.batch.pk),
                },
            )
            for item in pending
        ]
    )
    asset_ids = [str(item.asset.pk) for item in pending]
    hooks.assets_ingested(asset_ids, state.actor)
    thumbnails_request(asset_ids=asset_ids)
    state.accepted += len(pending)


def _check_before_decoding(state: _Batch, sha256: str) -> None:
    if state.consent_problem:
        raise Refused(
            RefusalReason.NO_CONSENT,
            f"dataset {state.dataset.slug} needs {', '.join(state.dataset.scopes)}: {state.consent_problem}",
        )
    listed = state.do_not_train.match(sha256=sha256, source_url=state.source.url if state.source else None)
    if listed is not None:
        raise Refused(RefusalReason.OPTOUT, listed.detail)
    if sha256 in state.seen:
        raise Refused(RefusalReason.DUPLICATE, f"same bytes as {state.seen[sha256]} earlier in this batch")
    if sha256 in state.existing:
        raise Refused(RefusalReason.DUPLICATE, f"already ingested as asset {state.existing[sha256]}")


_EXTENSIONS = {
    "JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "PNG": {".png"},
    "WEBP": {".webp"},
    "TIFF": {".tif", ".tiff"},
    "GIF": {".gif"},
    "BMP": {".bmp", ".dib"},
}


def _file_name(path: str) -> str:
    """The file's own name: after the last `!` of an archive path, then after the last `/`.
    (Not PurePath: display paths escape odd bytes with backslashes.)"""
    return path.rsplit("!", 1)[-1].rsplit("/", 1)[-1]


def _extension_mismatch(path: str, image_format: str) -> bool:
    suffix = PurePosixPath(_file_name(path)).suffix.lower()
    return bool(suffix) and suffix not in _EXTENSIONS.get(image_format, set())
