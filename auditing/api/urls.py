"""/api/v1/: the audit findings' routes (names under the `auditing-api` namespace)."""

from __future__ import annotations

from django.urls import URLPattern, path

from auditing.api import views

app_name = "auditing-api"

urlpatterns: list[URLPattern] = [
    path("findings/", views.FindingListView.as_view(), name="findings"),
    path("findings/<uuid:pk>/", views.FindingDetailView.as_view(), name="finding"),
    path("findings/<uuid:pk>/resolve/", views.FindingResolveView.as_view(), name="finding-resolve"),
    path("assets/<uuid:pk>/findings/", views.AssetFindingListView.as_view(), name="asset-findings"),
    path("datasets/<slug:slug>/findings/", views.DatasetFindingListView.as_view(), name="dataset-findings"),
    path("datasets/<slug:slug>/audit/", views.DatasetAuditView.as_view(), name="dataset-audit"),
]
