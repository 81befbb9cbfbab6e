"""The audit trail's pages (DESIGN.md, "Web contract": `/auditlog/`)."""

from __future__ import annotations

from django.urls import path

from core.web import auditlog

urlpatterns = [
    path("auditlog/", auditlog.auditlog_page_view, name="auditlog"),
    path("auditlog/verify/", auditlog.auditlog_verify_start, name="auditlog-verify"),
    path("auditlog/decisions.csv", auditlog.auditlog_decisions_csv, name="auditlog-decisions"),
]
