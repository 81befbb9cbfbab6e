"""The contributor portal's pages (DESIGN.md, "Web contract"), mounted at /portal/ (config/urls.py):
`path("upload/", …)` is /portal/upload/. One section per part."""

from __future__ import annotations

from django.urls import URLPattern, path

from provenance.portal import upload

urlpatterns: list[URLPattern] = [
    # --- home and notifications (/portal/) ---
    # --- consents: give, read, download, revoke (/portal/consents/…) ---
    # --- upload (/portal/upload/…) ---
    path("upload/", upload.UploadPage.as_view(), name="portal-upload"),
    path("upload/start/", upload.UploadStart.as_view(), name="portal-upload-start"),
    path("upload/<uuid:session_id>/", upload.UploadSessionPage.as_view(), name="portal-upload-session"),
    path("upload/<uuid:session_id>/files/", upload.UploadFiles.as_view(), name="portal-upload-files"),
    path("upload/<uuid:session_id>/process/", upload.UploadProcess.as_view(), name="portal-upload-process"),
    # --- "Was my image used?" (/portal/check/…) ---
]
