"""The snapshot and report pages (DESIGN.md, "Web contract")."""

from __future__ import annotations

from django.urls import path

from provenance import report_views, views

urlpatterns = [
    path("snapshots/", views.snapshot_list_page, name="snapshot-list"),
    path("snapshots/<uuid:snapshot_id>/", views.SnapshotPage.as_view(), name="snapshot-detail"),
    path("reports/", report_views.report_list_page, name="reports"),
    path("reports/<uuid:subject_id>/<slug:format_name>/", report_views.ReportExportPage.as_view(), name="report-export"),
    path("reports/downloads/<uuid:job_id>/", report_views.report_download, name="report-download"),
]
