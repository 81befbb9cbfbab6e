"""The public web pages that belong to no domain app."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.http import require_safe


# Public on purpose: it says what Cleanroom is and where to log in, and shows no data.
# login_not_required keeps it public if LoginRequiredMiddleware is ever switched on.
@login_not_required
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


# API clients always get JSON, also for a URL no route matches (a malformed id, a typo).
def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": f"no such resource: {request.path}", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "internal error; it has been logged", "code": "server_error"}, status=500)
    return defaults.server_error(request)
