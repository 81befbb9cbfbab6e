"""Exports run as background jobs (kind `export`) for the API and the /reports/ page: the
worker writes the file under DATA_DIR/exports/<job id>/, and only the person who asked for it
may download it. Compliance only: exports show consent and personal data of every member."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User

from core.background import background_job_for, background_start
from core.exceptions import ApplicationError, NotFound, PermissionDenied
from core.models import BackgroundJob, BackgroundJobStatus
from core.roles import Actor, Role, has_role
from provenance.exports.formats import SNAPSHOT, ExportFormat, Progress, Subject, export_format_get
from provenance.exports.service import export_refusal, export_write
from provenance.selectors import snapshot_get

EXPORT_KIND = "export"
EXPORTERS = (Role.COMPLIANCE,)


def exports_dir() -> Path:
    return Path(settings.DATA_DIR) / "exports"


def export_file_name(export_format: ExportFormat, subject_id: str) -> str:
    return f"cleanroom-{export_format.subject}-{subject_id}.{export_format.extension}"


def export_start(*, subject: Subject, subject_id: str, format_name: str, actor: Actor) -> BackgroundJob:
    """Queue an export for `actor` (compliance), after the checks that need no worker: the
    format (known, built), the snapshot (known, approved where the format needs it)."""
    if not has_role(actor, *EXPORTERS):
        raise PermissionDenied("only compliance may export reports")
    export_format = export_format_get(subject, format_name)
    export_refusal(export_format, subject_id)
    total = snapshot_get(snapshot_id=subject_id).asset_count if subject == SNAPSHOT else None
    params = {"subject": subject, "subject_id": str(subject_id), "format": format_name}
    return background_start(kind=EXPORT_KIND, actor=actor, params=params, total=total)


def export_job(job: BackgroundJob, progress: Progress) -> dict[str, Any]:
    """The worker's side (registered in ProvenanceConfig.ready())."""
    subject, subject_id, format_name = job.params["subject"], job.params["subject_id"], job.params["format"]
    export_format = export_format_get(subject, format_name)
    folder = exports_dir() / str(job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    name = export_file_name(export_format, subject_id)
    written = export_write(
        subject=subject, subject_id=subject_id, format_name=format_name, output=folder / name, force=True, progress=progress
    )
    return {
        "subject": subject,
        "subject_id": subject_id,
        "format": format_name,
        "label": export_format.label,
        "name": name,
        "sha256": written.sha256,
        "size": written.size,
        "warnings": written.warnings,
    }


@dataclass(frozen=True)
class ExportFile:
    path: Path
    name: str
    content_type: str
    sha256: str


def export_file(*, job_id: Any, viewer: Actor) -> ExportFile:
    """The finished export of `job_id`, to the person who asked for it (to anyone else there is
    no such export: NotFound); `export_not_ready` while it runs or after it failed."""
    job = background_job_for(job_id=job_id, viewer=viewer)
    if job is None or job.kind != EXPORT_KIND or not isinstance(viewer, User) or not has_role(viewer, *EXPORTERS):
        raise NotFound("no such export of yours", code="unknown_export")
    if job.status != BackgroundJobStatus.SUCCEEDED:
        reason = f": {job.status_reason}" if job.status_reason else ""
        raise ApplicationError(f"the export is {job.status}{reason}", code="export_not_ready", status=409)
    result = job.result or {}
    path = exports_dir() / str(job.pk) / result["name"]
    if not path.is_file():
        raise ApplicationError("the exported file is no longer kept; export again", code="export_file_missing", status=409)
    export_format = export_format_get(result["subject"], result["format"])
    return ExportFile(path=path, name=result["name"], content_type=export_format.content_type, sha256=result["sha256"])
