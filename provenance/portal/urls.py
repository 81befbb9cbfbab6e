"""The contributor portal's pages (DESIGN.md, "Web contract"), mounted at /portal/ (config/urls.py):
`path("upload/", …)` is /portal/upload/. One section per part."""

from __future__ import annotations

from django.urls import URLPattern, path  # noqa: F401

urlpatterns: list[URLPattern] = [
    # --- home and notifications (/portal/) ---
    # --- consents: give, read, download, revoke (/portal/consents/…) ---
    # --- upload (/portal/upload/…) ---
    # --- "Was my image used?" (/portal/check/…) ---
]
