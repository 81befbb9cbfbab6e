"""The contributor portal's upload: files arrive one by one into a private staging folder, then
are ingested together, by a background job, as one batch (provenance.services.ingest).

Resume-safe by construction: a file is written under a temporary name and given its final name
(its row's id) only once every byte has arrived, and only then is its row recorded; a dropped
connection leaves at most a `.part` file that nothing ever reads. What the pipeline reads is the
rows, so a half-received file can never become an image. A file sent again under a name already
received is not stored twice (the page asks which names arrived and sends only the others).

Everything is checked again when the batch is processed (the consent still belongs to the
contributor, the dataset still takes their files, the consent still covers its scopes: the
pipeline refuses each file `no_consent` otherwise). Staged files are removed once ingested:
accepted images then live in the blob store, refused ones nowhere. An upload left unprocessed
for CLEANROOM_UPLOAD_ABANDON_AFTER_HOURS is abandoned and its staged files (`.part` leftovers
included) are removed by beat's sweep (`upload_sessions_sweep`): nothing of it was governed yet.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile as DjangoUploadedFile
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from config.files import PRIVATE_FOLDER_MODE
from core.background import Progress, background_start
from core.exceptions import ApplicationError, NotFound
from core.models import BackgroundJob, BackgroundJobStatus
from core.uploads import uploaded_sha256
from provenance.ingest.refusals import RefusalReason
from provenance.ingest.sources import CAPTION_SUFFIX, Candidate, CandidateSource
from provenance.models import ConsentRecord, Contributor, Dataset, IngestItem, UploadedFile, UploadSession
from provenance.selectors import consent_gap, consent_state
from provenance.services.ingest import ingest_candidates, ingest_limits, ingest_upload_target

UPLOAD_KIND = "portal_upload"
PART_PREFIX = ".part-"
MAX_NAME_CHARS = 1024
_COPY_CHUNK = 1024 * 1024

# What each refusal means, for a contributor (the reason word stays beside it: it is the
# command-line contract's, and what an agency's scripts read).
REASON_WORDS: dict[str, str] = {
    RefusalReason.OPTOUT: "The image carries a do-not-train signal, so it is not used.",
    RefusalReason.INVALID_IMAGE: "This is not an image we can read (empty, damaged or another kind of file).",
    RefusalReason.UNSUPPORTED_TYPE: "This kind of file is not accepted.",
    RefusalReason.TOO_LARGE: "The file is larger than we accept.",
    RefusalReason.DUPLICATE: "We already have these exact bytes.",
    RefusalReason.NO_CONSENT: "Your consent does not cover this dataset (any more).",
    RefusalReason.UNSAFE_PATH: "The file's name or place in the archive is not safe to use.",
}


def max_files() -> int:
    """The most files one upload takes: the same number a single form post may carry."""
    return int(settings.DATA_UPLOAD_MAX_NUMBER_FILES or 1000)


def staging_root() -> Path:
    return Path(settings.DATA_DIR) / "portal-uploads"


def staging_dir(session: UploadSession) -> Path:
    return staging_root() / str(session.pk)


# -- what a contributor may choose --------------------------------------------------------------
def upload_datasets(contributor: Contributor) -> list[Dataset]:
    """The datasets the contributor's files may enter (their enrolments)."""
    return list(Dataset.objects.enrolled(Contributor.objects.filter(pk=contributor.pk)).order_by("slug"))


def upload_consents(contributor: Contributor) -> list[ConsentRecord]:
    """The contributor's consents that are in force now (not expired, revoked or future)."""
    consents = ConsentRecord.objects.filter(contributor=contributor).prefetch_related("events").order_by("-granted_at")
    return [consent for consent in consents if consent_state(consent).active]


# -- receiving ----------------------------------------------------------------------------------
def upload_session_start(*, contributor: Contributor, dataset_id: Any, consent_id: Any) -> UploadSession:
    """Open an upload into `dataset_id` under `consent_id`. A consent that is not the
    contributor's does not exist for them (NotFound); a dataset they may not contribute to, a
    consent no longer in force or one that does not cover the dataset's scopes is refused
    (ApplicationError) before a single byte is sent."""
    consent_pk = _uuid(consent_id)
    consent = ConsentRecord.objects.filter(contributor=contributor, pk=consent_pk).first() if consent_pk else None
    if consent is None:
        raise NotFound("no such consent of yours", code="unknown_consent")
    dataset = next((d for d in upload_datasets(contributor) if str(d.pk) == str(dataset_id)), None)
    if dataset is None:
        raise ApplicationError(
            "You may not add images to that dataset: choose one of the datasets listed, or ask the Cleanroom team to enrol you.",
            code="unknown_dataset",
        )
    gap = consent_gap(consent_state(consent), dataset.scopes)
    if gap:
        raise ApplicationError(
            f"This consent cannot be used for {dataset.name or dataset.slug}: {gap}. Choose another consent or give a new one.",
            code="no_consent",
        )
    return UploadSession.objects.create(contributor=contributor, dataset=dataset, consent=consent)


def upload_session_get(*, contributor: Contributor, session_id: Any) -> UploadSession:
    """The contributor's own upload; anyone else's does not exist (NotFound)."""
    session_pk = _uuid(session_id)
    session = (
        UploadSession.objects.select_related("dataset", "consent", "job", "batch")
        .filter(contributor=contributor, pk=session_pk)
        .first()
        if session_pk
        else None
    )
    if session is None:
        raise NotFound("no such upload of yours", code="unknown_upload")
    return session


def upload_receive(*, session: UploadSession, name: str, upload: DjangoUploadedFile) -> UploadedFile:
    """Keep one received file in the session's staging folder; the row is recorded only once
    the file is whole under its final name. The same name again is the file already received
    (a resumed upload): kept once, the copy sent again is dropped. The rules are checked once
    before the bytes are moved (cheap refusals) and again under the session's row lock, since
    the page sends a few files at once."""
    name = _clean_name(name or upload.name or "")
    existing = _receivable(session, name)
    if existing is not None:
        return existing
    folder = staging_dir(session)
    folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    part = folder / f"{PART_PREFIX}{uuid.uuid4().hex}"
    sha256, size = _write_part(upload, part)
    try:
        with transaction.atomic():
            locked = UploadSession.objects.select_for_update().get(pk=session.pk)
            existing = _receivable(locked, name)
            if existing is not None:
                part.unlink()
                return existing
            row = UploadedFile.objects.create(session=locked, name=name, size=size, sha256=sha256)
            os.replace(part, folder / str(row.pk))
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return row


def _receivable(session: UploadSession, name: str) -> UploadedFile | None:
    """The file already received under `name`, or None when a new one may come; refused when
    the upload is being processed or holds as many files as one upload may."""
    if session.job_id is not None:
        raise ApplicationError("This upload is already being processed: start a new upload for more files.", code="closed")
    _refuse_abandoned(session)
    existing = session.files.filter(name=name).first()
    if existing is None and session.files.count() >= max_files():
        raise ApplicationError(
            f"One upload takes at most {max_files()} files: process these first, then upload the rest.", code="too_many_files"
        )
    return existing


def upload_received(session: UploadSession) -> list[UploadedFile]:
    return list(session.files.all())


def _write_part(upload: DjangoUploadedFile, part: Path) -> tuple[str, int]:
    """Move (same file system) or copy the upload to `part`; its digest was taken on arrival."""
    digest = uploaded_sha256(upload)
    temporary = getattr(upload, "temporary_file_path", None)
    if digest is not None and temporary is not None:
        try:
            os.rename(temporary(), part)
            return digest, upload.size or part.stat().st_size
        except OSError:
            pass  # another file system: copy below
    hasher, size = hashlib.sha256(), 0
    upload.seek(0)
    try:
        with part.open("xb") as out:
            while chunk := upload.read(_COPY_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return hasher.hexdigest(), size


def _clean_name(name: str) -> str:
    """The name as the browser sent it (a folder's files keep their relative path), without
    NUL or backslashes, at most MAX_NAME_CHARS; the ingest pipeline judges whether it is safe."""
    name = name.replace("\x00", "").replace("\\", "/").strip()
    if not name:
        raise ApplicationError("A file came without a name.", code="no_name")
    return name[-MAX_NAME_CHARS:]


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# -- processing ---------------------------------------------------------------------------------
def upload_process_start(*, session: UploadSession, actor: User) -> BackgroundJob:
    """Start ingesting what was received, as a background job (the page shows its progress).
    Asked twice (a double click, a reload), it answers the job already started."""
    with transaction.atomic():
        locked = UploadSession.objects.select_for_update().get(pk=session.pk)
        if locked.job_id is not None:
            return BackgroundJob.objects.get(pk=locked.job_id)
        _refuse_abandoned(locked)
        count = locked.files.count()
        if not count:
            raise ApplicationError("No file has arrived yet: choose the images to upload.", code="no_files")
        job = background_start(kind=UPLOAD_KIND, actor=actor, params={"session_id": str(locked.pk)}, total=count)
        locked.job = job
        locked.save(update_fields=["job", "updated_at"])
    session.job = job
    return job


def upload_process_job(job: BackgroundJob, progress: Progress) -> dict[str, Any]:
    """The worker's side (kind `portal_upload`, registered in ProvenanceConfig.ready())."""
    session = UploadSession.objects.select_related("dataset", "consent__contributor").get(pk=job.params["session_id"])
    try:
        dataset = ingest_upload_target(dataset_slug=session.dataset.slug, consent=session.consent, actor=job.requested_by)
        files = upload_received(session)
        batch = ingest_candidates(
            candidates=_staged_candidates(session, files, progress),
            dataset=dataset,
            contributor=session.consent.contributor,
            consent=session.consent,
            source=None,
            actor=job.requested_by,
        )
    finally:
        shutil.rmtree(staging_dir(session), ignore_errors=True)
    UploadSession.objects.filter(pk=session.pk).update(batch=batch)
    return {
        "session_id": str(session.pk),
        "batch_id": str(batch.pk),
        "accepted": batch.accepted_count,
        "refused": batch.refused_count,
    }


def _staged_candidates(session: UploadSession, files: list[UploadedFile], progress: Progress) -> Iterator[Candidate]:
    """Each staged file through the upload rules (ZIPs expanded), a caption (`x.txt` beside
    `x.jpg`) with its image; one file open at a time (plus the few the pipeline reads ahead)."""
    folder = staging_dir(session)
    _, archive_limits = ingest_limits()
    source = CandidateSource(archive_limits)
    captions = _caption_of(files)
    caption_files = set(captions.values())
    total = len(files)
    for done, received in enumerate(files, 1):
        if received.pk in caption_files:
            progress(done, total)
            continue
        handles = []
        try:
            handles.append((received.name, (folder / str(received.pk)).open("rb")))
            caption = captions.get(received.pk)
            if caption is not None:
                named = next(f for f in files if f.pk == caption)
                handles.append((named.name, (folder / str(named.pk)).open("rb")))
            yield from source.uploads(handles)  # type: ignore[arg-type]
        except FileNotFoundError:
            yield Candidate(path=received.name, refusal=(RefusalReason.INVALID_IMAGE, "the file was not received whole"))
        finally:
            for _, handle in handles[1:]:
                handle.close()
        progress(done, total)


def _caption_of(files: list[UploadedFile]) -> dict[int, int]:
    """Image row id → its caption's row id (same folder and stem, `.txt`)."""
    by_stem: dict[tuple[str, str], list[UploadedFile]] = {}
    for received in files:
        pure = PurePosixPath(received.name)
        by_stem.setdefault((str(pure.parent), pure.stem), []).append(received)
    captions = {}
    for siblings in by_stem.values():
        texts = [f for f in siblings if f.name.lower().endswith(CAPTION_SUFFIX)]
        for other in siblings:
            if texts and other not in texts:
                captions[other.pk] = texts[0].pk
    return captions


# -- the outcome --------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutcomeRow:
    name: str
    accepted: bool
    reason: str
    meaning: str
    detail: str


def upload_outcome(session: UploadSession) -> list[OutcomeRow]:
    """One row per file (per archive member) of a processed upload, in the order received."""
    if session.batch_id is None:
        return []
    items = IngestItem.objects.filter(batch_id=session.batch_id).order_by("position")
    return [
        OutcomeRow(
            name=item.path,
            accepted=item.accepted,
            reason=item.reason,
            meaning="" if item.accepted else REASON_WORDS.get(item.reason, ""),
            detail=item.detail,
        )
        for item in items
    ]


def upload_state(session: UploadSession) -> str:
    """`receiving`, `abandoned`, `processing`, `done` or `failed`."""
    job = session.job
    if job is None:
        return "abandoned" if session.abandoned_at is not None else "receiving"
    if job.status == BackgroundJobStatus.SUCCEEDED:
        return "done"
    if job.status == BackgroundJobStatus.FAILED:
        return "failed"
    return "processing"


# -- abandoned uploads --------------------------------------------------------------------------
def _abandon_after_hours() -> int:
    return settings.CLEANROOM_UPLOAD_ABANDON_AFTER_HOURS


def _refuse_abandoned(session: UploadSession) -> None:
    if session.abandoned_at is not None:
        raise ApplicationError(
            f"This upload was left unfinished for more than {_abandon_after_hours()} hours, so its files were removed: "
            "start a new upload.",
            code="abandoned",
        )


def upload_sessions_sweep(*, now: Any = None) -> list[str]:
    """Abandon each upload still receiving whose last file arrived (or which started, with none)
    CLEANROOM_UPLOAD_ABANDON_AFTER_HOURS ago: mark it and remove its staging folder. Locked and
    checked again one by one, so a file arriving or processing starting meanwhile wins. Returns
    the uploads abandoned."""
    cutoff = (now or timezone.now()) - timedelta(hours=_abandon_after_hours())
    stale = (
        UploadSession.objects.filter(job__isnull=True, abandoned_at__isnull=True)
        .annotate(last_activity=Greatest("created_at", Coalesce(Max("files__received_at"), "created_at")))
        .filter(last_activity__lt=cutoff)
    )
    abandoned = []
    for session_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            session = UploadSession.objects.select_for_update().filter(pk=session_id, job__isnull=True).first()
            if session is None or session.abandoned_at is not None:
                continue
            last_file = session.files.aggregate(last=Max("received_at"))["last"]
            if last_file is not None and last_file >= cutoff:
                continue
            session.abandoned_at = timezone.now()
            session.save(update_fields=["abandoned_at", "updated_at"])
            # Removed inside the lock: a file received now would wait for it, then be refused.
            shutil.rmtree(staging_dir(session), ignore_errors=True)
        abandoned.append(str(session_id))
    return abandoned
