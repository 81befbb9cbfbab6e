"""The review pages (DESIGN.md, "Web contract") and the images they show."""

from __future__ import annotations

from django.urls import path

from auditing import bulk_views, views

urlpatterns = [
    path("review/", views.review_queue_page, name="review-queue"),
    path("review/bulk/", bulk_views.BulkDecisionPage.as_view(), name="review-bulk"),
    path("review/assets/<uuid:asset_id>/", views.AssetReviewPage.as_view(), name="review-asset"),
    path("images/assets/<uuid:asset_id>/", views.asset_image, name="asset-image"),
    path("images/assets/<uuid:asset_id>/thumb/<int:size>/", views.asset_thumbnail, name="asset-thumbnail"),
    path("images/protected/<uuid:work_id>/", views.protected_work_image, name="protected-work-image"),
]
