"""Pages of the platform as a whole."""

from __future__ import annotations

from django.urls import path

from core.web.background import background_job_page

urlpatterns = [
    path("tasks/<uuid:job_id>/", background_job_page, name="background-job"),
]
