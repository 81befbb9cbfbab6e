"""Who may open a page: the one check every web view makes before anything else.

Anonymous visitors are sent to the log-in page, which brings them back (`?next=`); a signed-in
user without one of the page's roles gets 403, rendered by templates/403.html. What a user may
see *on* a page is the business of the same `visible_to` querysets and services as the API.

    @role_required(*PAGE_ROLES["/review/"])
    def review_queue(request): ...

    class ConsentPage(RoleRequiredMixin, View):
        required_roles = (Role.CONTRIBUTOR,)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from core.roles import has_role

View = TypeVar("View", bound=Callable[..., HttpResponse])


def page_refusal(request: HttpRequest, roles: tuple[str, ...]) -> HttpResponse | None:
    """None when the request's user may open a page for `roles` (no roles: any signed-in user);
    else the redirect to the log-in page. Raises PermissionDenied (403) for a signed-in user
    who lacks every one of `roles`."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if roles and not has_role(request.user, *roles):
        raise PermissionDenied(f"this page is for: {', '.join(roles)}")
    return None


def role_required(*roles: str) -> Callable[[View], View]:
    """Decorate a view function: only signed-in users with one of `roles` get through."""
    if not roles:
        raise TypeError("role_required needs at least one role; use signin_required for any signed-in user")
    return _guard(roles)


def signin_required(view: View) -> View:
    """Decorate a view function: any signed-in user gets through (their own account's pages)."""
    return _guard(())(view)


def _guard(roles: tuple[str, ...]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return page_refusal(request, roles) or view(request, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorator


class RoleRequiredMixin:
    """For class-based views: put it first among the bases. `required_roles` empty: any
    signed-in user."""

    required_roles: tuple[str, ...] = ()

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return page_refusal(request, self.required_roles) or super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
