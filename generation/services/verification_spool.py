"""The verify spool: where a queued verification's upload waits for its worker, and nowhere else.

Anyone may send an image to the public verify API. One that its own manifest does not settle
is queued for an `audit` worker, which needs the bytes; they wait here
(`CLEANROOM_VERIFY_SPOOL_DIR`), never in the content-addressed blob store of governed assets
(core.storage), which keeps what it holds for ever and shares one file between every upload of
the same bytes. A spool file is named by its verification's id, never by its content, so
removing it can touch nothing else; it is 0600 in a 0700 folder.

- The web process writes it before the request's row is committed (`verify_upload_keep`),
  refusing with 503 `verify_busy` and writing nothing when the uploads waiting together would
  pass `CLEANROOM_VERIFY_SPOOL_MAX_BYTES`.
- The worker reads it and deletes it, in a `finally`, once the verdict or the failure is stored
  (`generation.services.verification.verification_run`).
- A worker killed mid-task leaves it behind; so does a web process that dies before its commit.
  The sweeper (`verify_uploads_sweep`, beat) removes a file whose verification has ended, one
  with no verification after a grace, and one older than
  `CLEANROOM_VERIFY_SPOOL_MAX_AGE_SECONDS` (failing its verification `upload_expired`); and it
  fails a waiting verification whose upload is gone (`upload_gone`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.reconcile import advisory_lock, grace
from core.storage import blob_exists
from generation.models import Verification, VerificationStatus

logger = logging.getLogger(__name__)
VERIFY_SPOOL_LOCK = 0x636C_7673  # "clvs": the PostgreSQL advisory lock every sweep takes
RETRY_AFTER_SECONDS = 60  # a queued verification takes seconds: room comes back soon
FINAL = (VerificationStatus.DONE, VerificationStatus.FAILED)
UPLOAD_GONE = "upload_gone: the uploaded image is no longer kept, so it cannot be verified; send it again"
UPLOAD_EXPIRED = "upload_expired: the image waited longer than {} s for a worker and was not kept; send it again"


def verify_spool_folder() -> Path:
    folder = Path(settings.CLEANROOM_VERIFY_SPOOL_DIR)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask and ignored when it exists
    return folder


def _path(verification_id: uuid.UUID | str) -> Path:
    return verify_spool_folder() / str(uuid.UUID(str(verification_id)))


@contextlib.contextmanager
def _quota_lock(folder: Path) -> Iterator[None]:
    """One writer at a time, across processes, between measuring the spool and writing to it."""
    handle = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def _uploads(folder: Path) -> dict[str, os.stat_result]:
    """The spool's upload files (named by a verification id; not its lock, nor anything else)
    by name, as they are now: a worker may delete one while they are listed."""
    found = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                uuid.UUID(entry.name)
                if entry.is_file(follow_symlinks=False):
                    found[entry.name] = entry.stat(follow_symlinks=False)
            except (ValueError, FileNotFoundError):
                continue
    return found


def verify_spool_usage() -> int:
    """Bytes held by the uploads waiting in the spool."""
    return sum(status.st_size for status in _uploads(verify_spool_folder()).values())


def verify_upload_keep(*, verification_id: uuid.UUID | str, data: bytes) -> None:
    """Write a queued verification's upload to the spool, or refuse with 503 `verify_busy`
    (Retry-After) and write nothing when it would take the spool past its quota."""
    folder = verify_spool_folder()
    path = _path(verification_id)
    with _quota_lock(folder):
        used = verify_spool_usage()
        if used + len(data) > settings.CLEANROOM_VERIFY_SPOOL_MAX_BYTES:
            logger.warning(
                "verify spool full: %d bytes waiting, %d more refused (CLEANROOM_VERIFY_SPOOL_MAX_BYTES=%d)",
                used, len(data), settings.CLEANROOM_VERIFY_SPOOL_MAX_BYTES,
            )  # fmt: skip
            raise _busy()
        # O_EXCL | O_NOFOLLOW: a fresh file of our own, never one (or a link) already there.
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
        except BaseException:
            path.unlink(missing_ok=True)
            raise


def _busy() -> ApplicationError:
    return ApplicationError(
        "too many images are waiting to be verified; try again later",
        code="verify_busy",
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def verify_upload_read(*, verification_id: uuid.UUID | str) -> bytes | None:
    """The upload waiting for this verification, or None when it is not (or no longer) kept."""
    try:
        handle = os.open(_path(verification_id), os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    with os.fdopen(handle, "rb") as spooled:
        return spooled.read()


def verify_upload_discard(*, verification_id: uuid.UUID | str) -> bool:
    """Delete this verification's upload; False when there was none."""
    try:
        _path(verification_id).unlink()
    except FileNotFoundError:
        return False
    return True


def _fail(verification_id: str, error: str) -> bool:
    from generation.services.verification import verification_transition

    try:
        verification_transition(verification_id=verification_id, to=VerificationStatus.FAILED, error=error)
    except ApplicationError:  # it ended meanwhile: its answer stands
        return False
    return True


def verify_uploads_sweep(*, now: datetime | None = None) -> dict[str, list[str]] | None:
    """Remove the spool files no verification needs any more, and fail the waiting verifications
    whose upload is gone. Returns the verification ids by what happened:

    - `final`: the verification has ended (its worker was killed before deleting the file, or
      the reconciler failed it as `worker_lost`): removed;
    - `orphaned`: no verification, and older than the reconciler's grace (its request never
      committed; a younger one may be about to): removed;
    - `expired`: waiting longer than CLEANROOM_VERIFY_SPOOL_MAX_AGE_SECONDS: failed
      `upload_expired`, removed;
    - `gone`: queued or running with no upload to read (and no blob of the previous release,
      see `generation.services.verification.verification_upload`): failed `upload_gone`.

    None when another sweep holds the lock (it does the work)."""
    now = now or timezone.now()
    report: dict[str, list[str]] = {"final": [], "orphaned": [], "expired": [], "gone": []}
    folder = verify_spool_folder()
    max_age = timedelta(seconds=settings.CLEANROOM_VERIFY_SPOOL_MAX_AGE_SECONDS)
    with transaction.atomic():
        if not advisory_lock(VERIFY_SPOOL_LOCK):
            logger.info("another sweep of the verify spool holds the lock; this one does nothing")
            return None
        written = {name: datetime.fromtimestamp(status.st_mtime, tz=UTC) for name, status in _uploads(folder).items()}
        rows = Verification.objects.filter(pk__in=list(written)).values_list("pk", "status")
        statuses = {str(pk): status for pk, status in rows}
        for verification_id, at in sorted(written.items(), key=lambda item: item[1]):
            status = statuses.get(verification_id)
            if status in FINAL:
                report["final"].append(verification_id)
            elif status is None and at < now - grace():
                report["orphaned"].append(verification_id)
            elif status is not None and at < now - max_age:
                _fail(verification_id, UPLOAD_EXPIRED.format(settings.CLEANROOM_VERIFY_SPOOL_MAX_AGE_SECONDS))
                report["expired"].append(verification_id)
            else:
                continue
            verify_upload_discard(verification_id=verification_id)

        waiting = Verification.objects.filter(status__in=(VerificationStatus.QUEUED, VerificationStatus.RUNNING))
        for pk, sha256 in waiting.exclude(pk__in=list(written)).order_by("created_at").values_list("pk", "sha256"):
            # Looked at again now: a request committed after the listing above wrote its file first.
            if _path(pk).exists() or blob_exists(sha256):
                continue
            if _fail(str(pk), UPLOAD_GONE):
                report["gone"].append(str(pk))
    if any(report.values()):
        logger.warning(
            "swept the verify spool: removed %s (ended), %s (no request), %s (expired); failed as upload_gone %s",
            report["final"], report["orphaned"], report["expired"], report["gone"],
        )  # fmt: skip
    return report
