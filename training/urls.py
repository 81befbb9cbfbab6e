"""The base-model pages: the list and one base model with its four-eyes decision."""

from __future__ import annotations

from django.urls import path

from training import views

urlpatterns = [
    path("base-models/", views.base_model_list_page, name="base-model-list"),
    path("base-models/<uuid:base_model_id>/", views.BaseModelPage.as_view(), name="base-model-detail"),
]
