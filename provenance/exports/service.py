"""Write one export to a file, atomically: a temporary file in the same folder, hashed as it is
written, then `os.replace` onto the output. On any error the temporary file is removed, so the
output is either the whole export or untouched (never half-written).

Exports are reads: they append no audit event (an event about the snapshot would also move the
report's audit anchor, and two exports of one snapshot would no longer be the same bytes).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from core.exceptions import ApplicationError
from provenance.exports.formats import SNAPSHOT, ExportFormat, Progress, Subject, export_format_get
from provenance.exports.records import snapshot_report
from provenance.selectors import snapshot_get


@dataclass(frozen=True)
class ExportResult:
    path: str
    format: str
    sha256: str
    size: int
    warnings: list[str] = field(default_factory=list)


def _no_progress(done: int, total: int | None) -> None:
    return None


class _Hashing:
    """A binary file that hashes what passes through it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self._handle.write(data)

    def __getattr__(self, name: str) -> Any:  # flush, writable, closed… for TextIOWrapper
        return getattr(self._handle, name)


def export_refusal(export_format: ExportFormat, subject_id: str) -> None:
    """Raise why this subject may not be exported in this format: an unknown snapshot, or one
    that never passed review for a format that needs it (`snapshot_not_approved`). A tainted
    snapshot that was approved may be exported in every format: compliance must show it."""
    if export_format.subject != SNAPSHOT:
        return  # the model formats' writers look their model up (training owns it)
    snapshot = snapshot_get(snapshot_id=subject_id)
    if export_format.needs_approval and not snapshot_report(snapshot).approved_at:
        raise ApplicationError(
            f"snapshot {snapshot.pk} is {snapshot.status} and was never approved; the {export_format.label} export "
            "needs an approved snapshot",
            code="snapshot_not_approved",
            status=409,
        )


def export_output_refusal(output: Path, *, force: bool) -> None:
    folder = output.parent
    if not folder.is_dir():
        raise ApplicationError(f"the folder {str(folder)!r} does not exist", code="output_folder_missing", status=400)
    if output.is_dir():
        raise ApplicationError(f"{str(output)!r} is a folder, not a file", code="output_is_folder", status=400)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ApplicationError(f"the folder {str(folder)!r} is not writable", code="output_not_writable", status=400)
    if output.exists() and not force:
        raise ApplicationError(f"{str(output)!r} exists; pass --force to replace it", code="output_exists", status=409)


def export_write(
    *, subject: Subject, subject_id: str, format_name: str, output: Path, force: bool = False, progress: Progress | None = None
) -> ExportResult:
    export_format = export_format_get(subject, format_name)
    export_refusal(export_format, subject_id)
    output = Path(os.path.abspath(output))
    export_output_refusal(output, force=force)
    try:
        descriptor, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".partial")
    except OSError as exc:
        raise ApplicationError(
            f"cannot write in {str(output.parent)!r}: {exc.strerror}", code="output_not_writable", status=400
        ) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            hashing = _Hashing(handle)
            notes = export_format.load_writer()(subject_id, hashing, progress or _no_progress)  # type: ignore[arg-type]
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return ExportResult(
        path=str(output),
        format=format_name,
        sha256=hashing.digest.hexdigest(),
        size=hashing.size,
        warnings=list(notes.get("warnings", [])),
    )
