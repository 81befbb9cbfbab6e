"""The public verify page (DESIGN.md, "Web contract": `/verify/`): anyone, signed in or not,
sends an image and reads whether it is ours and what made it.

The page posts to the same service as the API (`verification_request`): settled at once by the
image's own manifest, or queued for a worker's soft-binding search. Either way the browser goes
to the result's permalink (303), which shows progress while a worker searches, then the verdict.
The upload is never stored: the request's temporary file is deleted when the request ends, and
a queued upload waits only in the verify spool until its worker is done.

The page's posts count against the same rate as the API's (`verify` scope, per client), and a
body larger than the limit is refused from its declared length, before it is read.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_safe

from core.api.throttles import ClientScopedRateThrottle
from core.exceptions import ApplicationError
from generation.models import Verification, VerificationStatus
from generation.services.verification import verification_request
from generation.services.verification_results import (
    ReportState,
    verification_expires_at,
    verification_report_bytes,
    verification_report_request,
    verification_report_state,
    verification_result_get,
)
from generation.web.presentation import verdict_view

POLL_SECONDS = 1
THROTTLE_SCOPE = "verify"  # the API's: a client's page and API requests count together
# A multipart body carries a little more than its file: its boundaries and headers, the CSRF token.
MULTIPART_ALLOWANCE = 64 * 1024
EMPTY_FILE = "This file is empty (0 bytes): there is no image in it to verify."


class VerifyForm(forms.Form):
    image = forms.FileField(
        label="Image",
        allow_empty_file=True,  # an empty file gets the service's own plain answer, not Django's
        help_text="A JPEG, PNG or WebP image, up to 50 MB and 4096 × 4096 pixels. It is read, never kept.",
        widget=forms.FileInput(attrs={"accept": "image/*", "class": "dropzone__input"}),
    )


class _PageThrottle(ClientScopedRateThrottle):
    """The API's throttle, asked by a page: the same cache keys, so the same counts."""

    scope = THROTTLE_SCOPE

    def __init__(self) -> None:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)


class _Scope:
    throttle_scope = THROTTLE_SCOPE


def _too_many(request: HttpRequest) -> HttpResponse | None:
    """The 429 page when this client has used up the `verify` rate, else None (and counted)."""
    throttle = _PageThrottle()
    if throttle.allow_request(request, _Scope()):  # type: ignore[arg-type]
        return None
    wait = max(1, round(throttle.wait() or 1))
    rate_words = (throttle.rate or "").replace("/", " a ")
    response = render(request, "verify/too_many.html", {"wait": wait, "rate": rate_words}, status=429)
    response["Retry-After"] = str(wait)
    return response


def _form_page(request: HttpRequest, form: VerifyForm, *, problem: str = "", status: int = 200) -> HttpResponse:
    context = {"form": form, "problem": problem, "max_bytes": settings.CLEANROOM_VERIFY_MAX_BYTES}
    return render(request, "verify/verify.html", context, status=status)


def _declared_too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.CLEANROOM_VERIFY_MAX_BYTES + MULTIPART_ALLOWANCE


def _too_large_message() -> str:
    megabytes = settings.CLEANROOM_VERIFY_MAX_BYTES // (1024 * 1024)
    return (
        f"This file is too large to verify: the limit is {megabytes} MB and 4096 × 4096 pixels. Try a smaller copy of the image."
    )


@method_decorator(csrf_exempt, name="dispatch")  # checked in `post`, once the body's size is known to be fine
class VerifyPage(View):
    http_method_names = ["get", "post", "head", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return _form_page(request, VerifyForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        # Before the CSRF check, which would read the whole body to find its token.
        if _declared_too_large(request):
            return _form_page(request, VerifyForm(), problem=_too_large_message(), status=413)
        return _checked_post(request)


@csrf_protect
def _checked_post(request: HttpRequest) -> HttpResponse:
    if (refusal := _too_many(request)) is not None:
        return refusal
    form = VerifyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    upload = form.cleaned_data["image"]
    data = upload.read(settings.CLEANROOM_VERIFY_MAX_BYTES + 1)
    upload.close()  # its temporary file goes now, not at the end of the response
    if not data:
        return _form_page(request, VerifyForm(), problem=EMPTY_FILE, status=400)
    try:
        verification = verification_request(data=data, actor=request.user)
    except ApplicationError as error:
        message = _too_large_message() if error.code == "too_large" else _refusal_words(error)
        return _form_page(request, VerifyForm(), problem=message, status=error.status)
    return HttpResponseRedirect(reverse("verify-result", args=[verification.pk]), status=303)


def _refusal_words(error: ApplicationError) -> str:
    if error.code == "invalid_image":
        return (
            "This file is not an image we can read (JPEG, PNG, WebP and other raster images are; "
            f"SVG drawings, documents and archives are not). The reader said: {error.message}."
        )
    if error.code == "verify_busy":
        return "Too many images are waiting to be verified right now. Please try again in a minute."
    return f"This image cannot be verified: {error.message}."


def _result_context(verification: Verification) -> dict[str, Any]:
    return {
        "verification": verification,
        "finished": verification.status in (VerificationStatus.DONE, VerificationStatus.FAILED),
        "view": verdict_view(verification.verdict) if verification.status == VerificationStatus.DONE else None,
        "expires_at": verification_expires_at(verification),
        "report_state": verification_report_state(verification),
        "report_states": ReportState,
        "poll_seconds": POLL_SECONDS,
    }


def _gone_or_missing(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    return render(request, "verify/expired.html", {"error": error}, status=error.status)


@require_safe
def verification_result_page(request: HttpRequest, verification_id) -> HttpResponse:
    """The permalink: the result, never the image, for 24 hours."""
    try:
        verification = verification_result_get(verification_id=verification_id)
    except ApplicationError as error:
        return _gone_or_missing(request, error)
    context = _result_context(verification)
    template = "verify/_result.html" if request.htmx else "verify/result.html"  # type: ignore[attr-defined]
    return render(request, template, context)


class VerificationReportPage(View):
    """GET: how the signed report stands (signing, ready, failed); POST: ask a worker to sign it."""

    http_method_names = ["get", "post", "head", "options"]

    def get(self, request: HttpRequest, verification_id) -> HttpResponse:
        try:
            verification = verification_result_get(verification_id=verification_id)
        except ApplicationError as error:
            return _gone_or_missing(request, error)
        context = _result_context(verification)
        template = "verify/_report.html" if request.htmx else "verify/report.html"  # type: ignore[attr-defined]
        return render(request, template, context)

    def post(self, request: HttpRequest, verification_id) -> HttpResponse:
        try:
            verification_report_request(verification_id=verification_id)
        except ApplicationError as error:
            if error.status in (404, 410):
                return _gone_or_missing(request, error)
            verification = verification_result_get(verification_id=verification_id)
            context = {**_result_context(verification), "problem": error.message}
            return render(request, "verify/report.html", context, status=error.status)
        return HttpResponseRedirect(reverse("verify-report", args=[verification_id]), status=303)


@require_safe
def verification_report_file(request: HttpRequest, verification_id) -> HttpResponse:
    """The signed report: a C2PA-signed ZIP holding verification.json."""
    try:
        data = verification_report_bytes(verification_id=verification_id)
    except ApplicationError as error:
        return _gone_or_missing(request, error)
    response = HttpResponse(data, content_type="application/zip")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="cleanroom-verification-{verification_id}-{stamp}.zip"'
    return response
