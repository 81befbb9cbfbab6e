"""The portal's upload page (DESIGN.md, "Web contract": `/portal/upload/`).

Without JavaScript the form posts every file at once; with it (static/js/upload.js) the page
opens an upload first, sends the files one request each with a progress bar, a few at a time,
asks which arrived before sending again, then starts the processing. Both end on the upload's
own page, which shows the processing's progress and then one row per file.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from core.exceptions import ApplicationError, NotFound
from core.web.background import POLL_SECONDS
from provenance.models import ConsentRecord, Dataset, UploadSession
from provenance.portal.access import PortalPageMixin
from provenance.services.portal_upload import (
    max_files,
    upload_consents,
    upload_datasets,
    upload_outcome,
    upload_process_start,
    upload_receive,
    upload_received,
    upload_session_get,
    upload_session_start,
    upload_state,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


def _dataset_label(dataset: Dataset) -> str:
    return f"{dataset.name or dataset.slug} (needs consent for {', '.join(dataset.scopes)})"


def _consent_label(consent: ConsentRecord) -> str:
    until = f", until {consent.expires_at:%-d %B %Y}" if consent.expires_at else ""
    return f"{consent.granted_at:%-d %B %Y}: {', '.join(consent.scopes)} (terms {consent.terms_version}){until}"


class UploadForm(forms.Form):
    """For its labels and widgets only: the choices are checked by the service, so that another
    contributor's consent answers 404 rather than "not a valid choice"."""

    images = forms.FileField(
        label="Images",
        required=False,
        widget=MultipleFileInput(attrs={"multiple": True, "accept": "image/*,.zip,application/zip"}),
        help_text="Images (JPEG, PNG, WebP, TIFF, GIF) and ZIP archives of images, as many as you like at once.",
    )
    folder = forms.FileField(
        label="Or a whole folder",
        required=False,
        widget=MultipleFileInput(attrs={"webkitdirectory": True}),
        help_text="Every file in the folder and its sub-folders.",
    )
    dataset = forms.CharField(label="Dataset", widget=forms.Select)
    consent = forms.CharField(label="Consent", widget=forms.Select)

    def __init__(self, *args: Any, datasets: list[Dataset], consents: list[ConsentRecord], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].widget.choices = [(str(d.pk), _dataset_label(d)) for d in datasets]
        self.fields["consent"].widget.choices = [(str(c.pk), _consent_label(c)) for c in consents]


@method_decorator(csrf_exempt, name="dispatch")  # checked in post(), once the body is known to be readable
class UploadPage(PortalPageMixin, View):
    """The form (GET), and the plain post of every file at once (POST, without JavaScript)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            files = request.FILES.getlist("images") + request.FILES.getlist("folder")
        except (TooManyFilesSent, TooManyFieldsSent):
            return self._page(
                request,
                problem=f"That was more than {max_files()} files in one go. Nothing was kept. "
                "Send them in several uploads, or put them in a ZIP archive.",
                status=400,
            )
        except RequestDataTooBig:
            return self._page(request, problem="The form was too large. Nothing was kept.", status=400)
        refusal = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, None, (), {})  # type: ignore[arg-type]
        if refusal is not None:
            return refusal
        if not files:
            return self._page(request, problem="Choose at least one image, folder or ZIP archive to upload.", status=400)
        try:
            session = upload_session_start(
                contributor=self.contributor, dataset_id=request.POST.get("dataset"), consent_id=request.POST.get("consent")
            )
            for upload in files:
                upload_receive(session=session, name=upload.name or "", upload=upload)
            upload_process_start(session=session, actor=request.user)  # type: ignore[arg-type]
        except NotFound as missing:
            raise Http404(missing.message) from None
        except ApplicationError as refused:
            return self._page(request, problem=refused.message, status=400)
        return redirect("portal-upload-session", session.pk)

    def _page(self, request: HttpRequest, *, problem: str = "", status: int = 200) -> HttpResponse:
        datasets, consents = upload_datasets(self.contributor), upload_consents(self.contributor)
        form = UploadForm(
            datasets=datasets,
            consents=consents,
            initial={"dataset": request.POST.get("dataset"), "consent": request.POST.get("consent")},
        )
        context = {
            "form": form,
            "datasets": datasets,
            "consents": consents,
            "problem": problem,
            "max_files": max_files(),
            "max_request_bytes": settings.CLEANROOM_UPLOAD_MAX_REQUEST_BYTES,
            "max_file_bytes": settings.CLEANROOM_INGEST["MAX_FILE_BYTES"],
        }
        return render(request, "portal/upload.html", context, status=status)


class UploadStart(PortalPageMixin, View):
    """POST (the page's script): open an upload; JSON with where to send its files."""

    def post(self, request: HttpRequest) -> JsonResponse:
        try:
            session = upload_session_start(
                contributor=self.contributor, dataset_id=request.POST.get("dataset"), consent_id=request.POST.get("consent")
            )
        except NotFound as missing:
            return JsonResponse({"error": missing.message, "code": missing.code}, status=404)
        except ApplicationError as refused:
            return JsonResponse({"error": refused.message, "code": refused.code}, status=400)
        return JsonResponse(_session_json(session), status=201)


class UploadFiles(PortalPageMixin, View):
    """GET: the names received so far (to resume); POST: one more file (`file`, its `name`)."""

    def get(self, request: HttpRequest, session_id: Any) -> JsonResponse:
        return JsonResponse(_session_json(self._session(session_id)))

    def post(self, request: HttpRequest, session_id: Any) -> JsonResponse:
        session = self._session(session_id)
        upload = request.FILES.get("file")
        if upload is None:
            return JsonResponse({"error": "no file was sent", "code": "no_file"}, status=400)
        try:
            received = upload_receive(session=session, name=request.POST.get("name") or upload.name or "", upload=upload)
        except ApplicationError as refused:
            return JsonResponse({"error": refused.message, "code": refused.code}, status=409)
        return JsonResponse({"name": received.name, "size": received.size}, status=201)

    def _session(self, session_id: Any) -> UploadSession:
        try:
            return upload_session_get(contributor=self.contributor, session_id=session_id)
        except NotFound as missing:
            raise Http404(missing.message) from None


class UploadProcess(PortalPageMixin, View):
    """POST: ingest what was received (a background job); then the upload's page."""

    def post(self, request: HttpRequest, session_id: Any) -> HttpResponse:
        try:
            session = upload_session_get(contributor=self.contributor, session_id=session_id)
        except NotFound as missing:
            raise Http404(missing.message) from None
        try:
            upload_process_start(session=session, actor=request.user)  # type: ignore[arg-type]
        except ApplicationError as refused:
            return _session_page(request, session, problem=refused.message, status=400)
        return redirect("portal-upload-session", session.pk)


class UploadSessionPage(PortalPageMixin, View):
    """GET: an upload's files, its processing's progress, then one row per file (with htmx, the
    status block alone, asked again every second while the processing runs)."""

    def get(self, request: HttpRequest, session_id: Any) -> HttpResponse:
        try:
            session = upload_session_get(contributor=self.contributor, session_id=session_id)
        except NotFound as missing:
            raise Http404(missing.message) from None
        return _session_page(request, session)


def _session_page(request: HttpRequest, session: UploadSession, *, problem: str = "", status: int = 200) -> HttpResponse:
    state = upload_state(session)
    rows = upload_outcome(session) if state == "done" else []
    context = {
        "session": session,
        "state": state,
        "abandon_after_hours": settings.CLEANROOM_UPLOAD_ABANDON_AFTER_HOURS,
        "job": session.job,
        "received": upload_received(session) if state == "receiving" else [],
        "received_count": session.files.count(),
        "rows": rows,
        "accepted": sum(1 for row in rows if row.accepted),
        "refused": sum(1 for row in rows if not row.accepted),
        "problem": problem,
        "poll_seconds": POLL_SECONDS,
    }
    template = "portal/_upload_status.html" if request.htmx else "portal/upload_session.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


def _session_json(session: UploadSession) -> dict[str, Any]:
    return {
        "session": str(session.pk),
        "files_url": reverse("portal-upload-files", args=[session.pk]),
        "process_url": reverse("portal-upload-process", args=[session.pk]),
        "page_url": reverse("portal-upload-session", args=[session.pk]),
        "received": [received.name for received in session.files.all()],
        "max_files": max_files(),
    }
