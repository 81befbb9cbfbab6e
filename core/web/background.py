"""The page of a background job: its progress while it runs, then its result (core/background.py)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from core.background import background_job_for, background_kind
from core.web.permissions import signin_required

# How often the page asks again while the job runs: with htmx, the status block alone; without
# JavaScript, the whole page reloads itself (a meta refresh).
POLL_SECONDS = 1


@signin_required
@require_safe
def background_job_page(request: HttpRequest, job_id) -> HttpResponse:
    """Only the person who started the job sees it; to anyone else it does not exist."""
    job = background_job_for(job_id=job_id, viewer=request.user)
    if job is None:
        raise Http404("no such job of yours")
    context = {
        "job": job,
        "kind": background_kind(job.kind),
        "result": job.result or {},
        "poll_seconds": POLL_SECONDS,
    }
    template = "core/_background_job_status.html" if request.htmx else "core/background_job.html"  # type: ignore[attr-defined]
    return render(request, template, context)
