"""The Reports page (/reports/, compliance): each approved or tainted snapshot with a link per
export format. Thin: the guard, then provenance.exports, which the API and the CLI use too.

A lawyer's comfort decides how a link answers: the CSV and JSON of a snapshot of at most
`DIRECT_MAX` images are written at once and downloaded by the click itself (a second or two);
anything larger or heavier opens a page that says so, whose button starts a background export,
and the job's page (/tasks/<id>/) follows it and offers the file when it is written.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django.views.decorators.http import require_safe
from django_htmx.http import HttpResponseClientRedirect

from core.background import job_url
from core.exceptions import ApplicationError, NotFound
from core.web.keyset import newest_first
from core.web.navigation import PAGE_ROLES
from core.web.permissions import RoleRequiredMixin, role_required
from provenance.exports.formats import SNAPSHOT, ExportFormat, export_formats
from provenance.exports.jobs import export_file, export_file_name, export_start
from provenance.exports.service import export_write
from provenance.models import Snapshot, SnapshotStatus
from provenance.models.snapshots import REQUIRED_APPROVALS
from provenance.selectors import snapshots_approvals

REPORT_PAGE_ROLES = PAGE_ROLES["/reports/"]
LIST_PAGE_SIZE = 50
# The largest snapshot whose CSV or JSON a click downloads at once (written in about a second).
DIRECT_MAX = 5000
DIRECT_FORMATS = {"csv", "json"}


@dataclass(frozen=True)
class FormatCell:
    export_format: ExportFormat
    # Why there is no link, in words; "" when there is one.
    unavailable: str


@dataclass(frozen=True)
class ReportRow:
    snapshot: Snapshot
    approvals: list[str]
    cells: list[FormatCell]

    @property
    def tainted(self) -> bool:
        return self.snapshot.status == SnapshotStatus.TAINTED


def _cells(snapshot: Snapshot, approved: bool) -> list[FormatCell]:
    cells = []
    for export_format in export_formats(SNAPSHOT):
        if not export_format.available:
            why = "not available yet"
        elif export_format.needs_approval and not approved:
            why = "only for a snapshot that was approved"
        else:
            why = ""
        cells.append(FormatCell(export_format, why))
    return cells


@role_required(*REPORT_PAGE_ROLES)
@require_safe
def report_list_page(request: HttpRequest) -> HttpResponse:
    snapshots = (
        Snapshot.objects.visible_to(request.user)
        .filter(status__in=[SnapshotStatus.APPROVED, SnapshotStatus.TAINTED])
        .select_related("dataset", "created_by")
    )
    after = request.GET.get("after") or None
    context: dict[str, Any] = {"rows": [], "problem": None, "next_url": None, "first_page": not after}
    try:
        page = newest_first(snapshots, after=after, limit=LIST_PAGE_SIZE)
    except ApplicationError as error:
        context["problem"] = error.message
        return render(request, "provenance/reports.html", context, status=error.status)
    approvals = snapshots_approvals(page.rows)
    context["rows"] = [
        ReportRow(snapshot, approvals[snapshot.pk], _cells(snapshot, len(approvals[snapshot.pk]) >= REQUIRED_APPROVALS))
        for snapshot in page.rows
    ]
    context["formats"] = export_formats(SNAPSHOT)
    if page.next_cursor:
        context["next_url"] = f"?after={page.next_cursor}"
    return render(request, "provenance/reports.html", context)


def _export_format(name: str) -> ExportFormat:
    for export_format in export_formats(SNAPSHOT):
        if export_format.name == name:
            return export_format
    raise Http404("no such export format")


def _snapshot(request: HttpRequest, snapshot_id: Any) -> Snapshot:
    snapshot = Snapshot.objects.visible_to(request.user).select_related("dataset").filter(pk=snapshot_id).first()
    if snapshot is None:
        raise Http404("no such snapshot")
    return snapshot


class ReportExportPage(RoleRequiredMixin, View):
    """GET: a small snapshot's CSV or JSON at once; otherwise a page that says what preparing the
    file means, with its button. POST: start the background export, then its job's page."""

    required_roles = REPORT_PAGE_ROLES

    def get(self, request: HttpRequest, snapshot_id: Any, format_name: str) -> HttpResponseBase:
        snapshot, export_format = _snapshot(request, snapshot_id), _export_format(format_name)
        if export_format.name in DIRECT_FORMATS and snapshot.asset_count <= DIRECT_MAX:
            try:
                return _download_now(snapshot, export_format)
            except ApplicationError as refusal:
                return self._page(request, snapshot, export_format, problem=refusal.message, status=refusal.status)
        return self._page(request, snapshot, export_format)

    def post(self, request: HttpRequest, snapshot_id: Any, format_name: str) -> HttpResponse:
        snapshot, export_format = _snapshot(request, snapshot_id), _export_format(format_name)
        try:
            job = export_start(subject=SNAPSHOT, subject_id=str(snapshot.pk), format_name=export_format.name, actor=request.user)
        except ApplicationError as refusal:
            return self._page(request, snapshot, export_format, problem=refusal.message, status=refusal.status)
        if request.htmx:  # type: ignore[attr-defined]
            return HttpResponseClientRedirect(job_url(job))
        return HttpResponseRedirect(job_url(job))

    @staticmethod
    def _page(
        request: HttpRequest, snapshot: Snapshot, export_format: ExportFormat, *, problem: str = "", status: int = 200
    ) -> HttpResponse:
        context = {"snapshot": snapshot, "export_format": export_format, "problem": problem}
        return render(request, "provenance/report_export.html", context, status=status)


def _download_now(snapshot: Snapshot, export_format: ExportFormat) -> FileResponse:
    """Write the export into a private temporary folder and send it; the file is unlinked at
    once and lives only as long as the open handle the response closes."""
    name = export_file_name(export_format, str(snapshot.pk))
    with tempfile.TemporaryDirectory(prefix="cleanroom-export-") as folder:
        written = export_write(
            subject=SNAPSHOT, subject_id=str(snapshot.pk), format_name=export_format.name, output=Path(folder) / name
        )
        handle = open(written.path, "rb")  # noqa: SIM115  (FileResponse closes it)
        os.unlink(written.path)
    return _attachment(handle, name, export_format.content_type, written.sha256)


def _attachment(handle: Any, name: str, content_type: str, sha256: str) -> FileResponse:
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Digest"] = f"sha-256={sha256}"
    return response


@role_required(*REPORT_PAGE_ROLES)
@require_safe
def report_download(request: HttpRequest, job_id: Any) -> HttpResponse:
    """The file of a finished background export, to the person who asked for it; while it is
    still being written (or after it failed), its job's page, which says how it stands."""
    try:
        found = export_file(job_id=job_id, viewer=request.user)
    except NotFound:
        raise Http404("no such export of yours") from None
    except ApplicationError:
        return HttpResponseRedirect(reverse("background-job", args=[job_id]))
    # role_required's typing knows no streamed answer
    return _attachment(found.path.open("rb"), found.name, found.content_type, found.sha256)  # type: ignore[return-value]
