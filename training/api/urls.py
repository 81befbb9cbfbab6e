"""/api/v1/: base models, training runs and models (names under the `training-api` namespace)."""

from __future__ import annotations

from django.urls import URLPattern, path

from training.api import views

app_name = "training-api"

urlpatterns: list[URLPattern] = [
    path("base-models/", views.BaseModelListView.as_view(), name="base-models"),
    path("base-models/<uuid:pk>/", views.BaseModelDetailView.as_view(), name="base-model"),
    path("base-models/<uuid:pk>/approve/", views.BaseModelApproveView.as_view(), name="base-model-approve"),
    path("base-models/<uuid:pk>/reject/", views.BaseModelRejectView.as_view(), name="base-model-reject"),
    path("training-runs/", views.TrainingRunListCreateView.as_view(), name="training-runs"),
    path("training-runs/<uuid:pk>/", views.TrainingRunDetailView.as_view(), name="training-run"),
    path("training-runs/<uuid:pk>/cancel/", views.TrainingRunCancelView.as_view(), name="training-run-cancel"),
    path("models/", views.ModelListView.as_view(), name="models"),
    path("models/<uuid:pk>/", views.ModelDetailView.as_view(), name="model"),
    path("models/<uuid:pk>/exports/", views.ModelExportView.as_view(), name="model-exports"),
]
