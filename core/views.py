"""The public web pages that belong to no domain app."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.http import require_safe

from core.forms import GuardedAuthenticationForm


# Public on purpose: it says what Cleanroom is and where to log in, and shows no data.
# login_not_required keeps it public if LoginRequiredMiddleware is ever switched on.
@login_not_required
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


class LoginView(auth_views.LoginView):
    """Django's log-in page; a locked-out account or address gets 429 with Retry-After and the
    form again, with the reason in an alert."""

    authentication_form = GuardedAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: GuardedAuthenticationForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)
        if form.locked is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.locked.retry_after)
        return response


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


# API clients always get JSON, also for a URL no route matches (a malformed id, a typo).
def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"error": f"no such resource: {request.path}", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"error": "internal error; it has been logged", "code": "server_error"}, status=500)
    return defaults.server_error(request)
