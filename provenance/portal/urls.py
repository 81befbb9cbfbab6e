"""The contributor portal's pages (DESIGN.md, "Web contract"), mounted at /portal/ (config/urls.py):
`path("upload/", …)` is /portal/upload/. One section per part."""

from __future__ import annotations

from django.urls import URLPattern, path

from provenance.portal import check, consents, home, upload

urlpatterns: list[URLPattern] = [
    # --- home and notifications (/portal/) ---
    path("", home.PortalHomeView.as_view(), name="portal-home"),
    # --- consents: give, read, download, revoke (/portal/consents/…) ---
    path("consents/new/", consents.ConsentNewView.as_view(), name="portal-consent-new"),
    path("consents/<uuid:consent_id>/", consents.ConsentDetailView.as_view(), name="portal-consent"),
    path("consents/<uuid:consent_id>/revoke/", consents.ConsentRevokeView.as_view(), name="portal-consent-revoke"),
    path("consents/<uuid:consent_id>/download/", consents.ConsentDownloadView.as_view(), name="portal-consent-download"),
    # --- upload (/portal/upload/…) ---
    path("upload/", upload.UploadPage.as_view(), name="portal-upload"),
    path("upload/start/", upload.UploadStart.as_view(), name="portal-upload-start"),
    path("upload/<uuid:session_id>/", upload.UploadSessionPage.as_view(), name="portal-upload-session"),
    path("upload/<uuid:session_id>/files/", upload.UploadFiles.as_view(), name="portal-upload-files"),
    path("upload/<uuid:session_id>/process/", upload.UploadProcess.as_view(), name="portal-upload-process"),
    # --- "Was my image used?" (/portal/check/…) ---
    path("check/", check.CheckView.as_view(), name="portal-check"),
    path("check/how-to-check-a-proof/", check.HowToView.as_view(), name="portal-check-howto"),
    path("check/<uuid:asset_id>/proof/<uuid:snapshot_id>.json", check.ProofView.as_view(), name="portal-check-proof"),
]
