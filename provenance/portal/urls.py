"""The contributor portal's pages (DESIGN.md, "Web contract"), mounted at /portal/ (config/urls.py):
`path("upload/", …)` is /portal/upload/. One section per part."""

from __future__ import annotations

from django.urls import URLPattern, path

from provenance.portal import check

urlpatterns: list[URLPattern] = [
    # --- home and notifications (/portal/) ---
    # --- consents: give, read, download, revoke (/portal/consents/…) ---
    # --- upload (/portal/upload/…) ---
    # --- "Was my image used?" (/portal/check/…) ---
    path("check/", check.CheckView.as_view(), name="portal-check"),
    path("check/how-to-check-a-proof/", check.HowToView.as_view(), name="portal-check-howto"),
    path("check/<uuid:asset_id>/proof/<uuid:snapshot_id>.json", check.ProofView.as_view(), name="portal-check-proof"),
]
