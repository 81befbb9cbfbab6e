"""The public web pages that belong to no domain app."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.views import defaults
from django.views.decorators.http import require_safe

from core.forms import GuardedAuthenticationForm, PasswordChangeForm
from core.users import user_password_set
from core.web.permissions import RoleRequiredMixin


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


class PasswordChangeView(RoleRequiredMixin, auth_views.PasswordChangeView):
    """ "Change my password" for any signed-in user: the current password, then the new one
    twice; Django's validators apply. The change goes through the same service as
    `user password` (audited); this session stays open, the user's other sessions end."""

    form_class = PasswordChangeForm
    template_name = "registration/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        user = user_password_set(username=form.user.get_username(), password=form.cleaned_data["new_password1"], actor=form.user)
        update_session_auth_hash(self.request, user)
        messages.success(self.request, "Your password has been changed.")
        return HttpResponseRedirect(self.get_success_url())


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


# API clients always get JSON, also for a URL no route matches (a malformed id, a typo).
def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"error": f"no such resource: {request.path}", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"error": "you may not do this", "code": "permission_denied"}, status=403)
    return defaults.permission_denied(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"error": "the request could not be understood", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


# templates/500.html is rendered without the request's context (no user, no navigation): the
# error may have come from the database that the context would be read from.
def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"error": "internal error; it has been logged", "code": "server_error"}, status=500)
    return defaults.server_error(request)
