"""Pages of the platform as a whole: a background job's progress, and the audit trail
(DESIGN.md, "Web contract": `/auditlog/`)."""

from __future__ import annotations

from django.urls import path

from core.web import auditlog
from core.web.background import background_job_page

urlpatterns = [
    path("tasks/<uuid:job_id>/", background_job_page, name="background-job"),
    path("auditlog/", auditlog.auditlog_page_view, name="auditlog"),
    path("auditlog/verify/", auditlog.AuditlogVerifyStart.as_view(), name="auditlog-verify"),
    path("auditlog/decisions.csv", auditlog.auditlog_decisions_csv, name="auditlog-decisions"),
]
