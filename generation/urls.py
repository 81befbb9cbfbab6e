"""The public verify page and its results (DESIGN.md, "Web contract": `/verify/`)."""

from __future__ import annotations

from django.urls import URLPattern, path

from generation.web import verify

urlpatterns: list[URLPattern] = [
    path("verify/", verify.VerifyPage.as_view(), name="verify"),
    path("verify/<uuid:verification_id>/", verify.verification_result_page, name="verify-result"),
    path("verify/<uuid:verification_id>/report/", verify.VerificationReportPage.as_view(), name="verify-report"),
    path("verify/<uuid:verification_id>/report/file/", verify.verification_report_file, name="verify-report-file"),
]
