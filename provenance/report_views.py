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
from collections.abc import Callable
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
from provenance.exports.formats import SNAPSHOT, ExportFormat, Subject, export_formats
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
class ReportSubject:
    """What an export page says of its subject (a snapshot, or a model another app provides)."""

    pk: Any
    title: str  # "snapshot 7c2ea275…"
    description: str  # what the export covers, in words
    tainted_reason: str  # "" unless tainted
    small: bool  # its CSV or JSON is written in the click's own request


# Other apps add a section to the Reports page (training: its trained models) without provenance
# importing them: each provider takes the request and returns (template, context) or None.
ReportSection = Callable[[HttpRequest], "tuple[str, dict[str, Any]] | None"]
_sections: list[ReportSection] = []


def on_report_section(provider: ReportSection) -> None:
    if provider not in _sections:
        _sections.append(provider)


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
    context["sections"] = [section for provider in _sections if (section := provider(request)) is not None]
    if page.next_cursor:
        context["next_url"] = f"?after={page.next_cursor}"
    return render(request, "provenance/reports.html", context)


class ExportPage(RoleRequiredMixin, View):
    """GET: a small subject's CSV or JSON at once; otherwise a page that says what preparing the
    file means, with its button. POST: start the background export, then its job's page. A
    subclass names its `subject` kind and finds the subject the viewer may export."""

    required_roles = REPORT_PAGE_ROLES
    subject: Subject = SNAPSHOT

    def report_subject(self, request: HttpRequest, subject_id: Any) -> ReportSubject:
        raise NotImplementedError

    def get(self, request: HttpRequest, subject_id: Any, format_name: str) -> HttpResponseBase:
        subject, export_format = self.report_subject(request, subject_id), self._export_format(format_name)
        if export_format.name in DIRECT_FORMATS and subject.small:
            try:
                return _download_now(self.subject, str(subject.pk), export_format)
            except ApplicationError as refusal:
                return self._page(request, subject, export_format, problem=refusal.message, status=refusal.status)
        return self._page(request, subject, export_format)

    def post(self, request: HttpRequest, subject_id: Any, format_name: str) -> HttpResponse:
        subject, export_format = self.report_subject(request, subject_id), self._export_format(format_name)
        try:
            job = export_start(
                subject=self.subject, subject_id=str(subject.pk), format_name=export_format.name, actor=request.user
            )
        except ApplicationError as refusal:
            return self._page(request, subject, export_format, problem=refusal.message, status=refusal.status)
        if request.htmx:  # type: ignore[attr-defined]
            return HttpResponseClientRedirect(job_url(job))
        return HttpResponseRedirect(job_url(job))

    def _export_format(self, name: str) -> ExportFormat:
        for export_format in export_formats(self.subject):
            if export_format.name == name:
                return export_format
        raise Http404("no such export format")

    def _page(
        self, request: HttpRequest, subject: ReportSubject, export_format: ExportFormat, *, problem: str = "", status: int = 200
    ) -> HttpResponse:
        context = {"subject": subject, "export_format": export_format, "problem": problem, "action": request.path}
        return render(request, "provenance/report_export.html", context, status=status)


class ReportExportPage(ExportPage):
    """A snapshot's export (/reports/<snapshot>/<format>/)."""

    def report_subject(self, request: HttpRequest, subject_id: Any) -> ReportSubject:
        snapshot = Snapshot.objects.visible_to(request.user).select_related("dataset").filter(pk=subject_id).first()
        if snapshot is None:
            raise Http404("no such snapshot")
        count = snapshot.asset_count
        tainted = snapshot.status == SnapshotStatus.TAINTED
        return ReportSubject(
            pk=snapshot.pk,
            title=f"snapshot {str(snapshot.pk)[:8]}…",
            description=f"the {count} image{'' if count == 1 else 's'} of dataset {snapshot.dataset.slug}",
            tainted_reason=(snapshot.status_reason or "a consent it rests on was withdrawn") if tainted else "",
            small=count <= DIRECT_MAX,
        )


def _download_now(subject: Subject, subject_id: str, export_format: ExportFormat) -> FileResponse:
    """Write the export into a private temporary folder and send it; the file is unlinked at
    once and lives only as long as the open handle the response closes."""
    name = export_file_name(export_format, subject_id)
    with tempfile.TemporaryDirectory(prefix="cleanroom-export-") as folder:
        output = Path(folder) / name
        written = export_write(subject=subject, subject_id=subject_id, format_name=export_format.name, output=output)
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
