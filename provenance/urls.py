"""The snapshot pages (DESIGN.md, "Web contract")."""

from __future__ import annotations

from django.urls import path

from provenance import views

urlpatterns = [
    path("snapshots/", views.snapshot_list_page, name="snapshot-list"),
    path("snapshots/<uuid:snapshot_id>/", views.SnapshotPage.as_view(), name="snapshot-detail"),
]
