"""/api/v1/: the routes every app shares (names under the `core-api` namespace)."""

from __future__ import annotations

from django.urls import URLPattern, path

from core.api import views

app_name = "core-api"

urlpatterns: list[URLPattern] = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("audit-events/", views.AuditEventListView.as_view(), name="audit-events"),
    path("audit-events/verify/", views.AuditVerifyView.as_view(), name="audit-verify"),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", views.DocsView.as_view(), name="docs"),
]
