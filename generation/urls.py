"""The public verify page and its results (DESIGN.md, "Web contract": `/verify/`)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
