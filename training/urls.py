"""The base-model pages (the list and one base model with its four-eyes decision) and a trained
model's exports on the Reports page."""

from __future__ import annotations

from django.urls import path

from training import report_views, views

urlpatterns = [
    path("base-models/", views.base_model_list_page, name="base-model-list"),
    path("base-models/<uuid:base_model_id>/", views.BaseModelPage.as_view(), name="base-model-detail"),
    path(
        "reports/models/<uuid:subject_id>/<slug:format_name>/",
        report_views.ModelExportPage.as_view(),
        name="report-model-export",
    ),
]
