"""/api/v1/: provenance's routes (names under the `api` namespace)."""

from __future__ import annotations

from django.urls import URLPattern, path

from provenance.api import exports, views

app_name = "api"

urlpatterns: list[URLPattern] = [
    path("contributors/", views.ContributorListCreateView.as_view(), name="contributors"),
    path("datasets/", views.DatasetListCreateView.as_view(), name="datasets"),
    path("datasets/<slug:slug>/", views.DatasetDetailView.as_view(), name="dataset"),
    path("datasets/<slug:slug>/enrol/", views.DatasetEnrolView.as_view(), name="dataset-enrol"),
    path("datasets/<slug:slug>/unenrol/", views.DatasetUnenrolView.as_view(), name="dataset-unenrol"),
    path("consents/", views.ConsentListCreateView.as_view(), name="consents"),
    path("consents/<uuid:pk>/", views.ConsentDetailView.as_view(), name="consent"),
    path("consents/<uuid:pk>/revoke/", views.ConsentRevokeView.as_view(), name="consent-revoke"),
    path("consents/<uuid:pk>/renew/", views.ConsentRenewView.as_view(), name="consent-renew"),
    path("ingest/", views.IngestView.as_view(), name="ingest"),
    path("assets/", views.AssetListView.as_view(), name="assets"),
    path("assets/<uuid:pk>/", views.AssetDetailView.as_view(), name="asset"),
    path("assets/<uuid:pk>/review/", views.AssetReviewView.as_view(), name="asset-review"),
    path("snapshots/", views.SnapshotListCreateView.as_view(), name="snapshots"),
    path("snapshots/<uuid:pk>/", views.SnapshotDetailView.as_view(), name="snapshot"),
    path("snapshots/<uuid:pk>/approve/", views.SnapshotApproveView.as_view(), name="snapshot-approve"),
    path("snapshots/<uuid:pk>/reject/", views.SnapshotRejectView.as_view(), name="snapshot-reject"),
    path("snapshots/<uuid:pk>/prove/", views.SnapshotProveView.as_view(), name="snapshot-prove"),
    path("snapshots/<uuid:pk>/exports/", exports.SnapshotExportView.as_view(), name="snapshot-exports"),
    path("exports/<uuid:pk>/", exports.ExportJobView.as_view(), name="export"),
    path("exports/<uuid:pk>/file/", exports.ExportFileView.as_view(), name="export-file"),
]
