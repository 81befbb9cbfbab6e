"""/api/v1/generation/: the generation API's routes (names under the `generation-api` namespace)."""

from __future__ import annotations

from django.urls import URLPattern, path

from generation.api import verify, views

app_name = "generation-api"

urlpatterns: list[URLPattern] = [
    path("generation/jobs/", views.JobListCreateView.as_view(), name="jobs"),
    path("generation/jobs/<uuid:pk>/", views.JobDetailView.as_view(), name="job"),
    path("generation/jobs/<uuid:pk>/cancel/", views.JobCancelView.as_view(), name="job-cancel"),
    path("generation/batches/", views.BatchCreateView.as_view(), name="batches"),
    path("generation/batches/<uuid:pk>/", views.BatchDetailView.as_view(), name="batch"),
    path("generation/outputs/<uuid:pk>/", views.OutputDetailView.as_view(), name="output"),
    path("generation/outputs/<uuid:pk>/download/", views.OutputDownloadView.as_view(), name="output-download"),
    path("verify/", verify.VerifyView.as_view(), name="verify"),
    path("verify/<uuid:pk>/", verify.VerificationDetailView.as_view(), name="verification"),
]
