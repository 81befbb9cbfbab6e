"""Who a portal page is for: a signed-in contributor, and only their own records.

Every portal view starts with `portal_contributor(request)` (or `PortalPageMixin`): anonymous
visitors go to the log-in page, other roles get 403, and a contributor account that no
contributor record is linked to gets a page that says so (never a 500). Objects are then looked
up through the contributor, so another contributor's id answers 404: its existence never leaks.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.roles import Role
from core.web.permissions import page_refusal
from provenance.models import Contributor

PORTAL_ROLES = (Role.CONTRIBUTOR,)


class NotLinked(Exception):
    """A contributor account with no contributor record linked to it."""


def portal_contributor(request: HttpRequest) -> Contributor:
    """The contributor record of the signed-in account; NotLinked when there is none. Call after
    the role check (`portal_refusal`)."""
    contributor = Contributor.objects.filter(user_id=request.user.pk).first()
    if contributor is None:
        raise NotLinked
    return contributor


def portal_refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request may open a portal page; else the log-in redirect or the page that
    says the account is not linked to a contributor. Raises PermissionDenied (403) for other roles."""
    refusal = page_refusal(request, PORTAL_ROLES)
    if refusal is not None:
        return refusal
    try:
        portal_contributor(request)
    except NotLinked:
        return render(request, "portal/not_linked.html", status=403)
    return None


class PortalPageMixin:
    """For class-based portal views: put it first among the bases; `self.contributor` is then
    the signed-in contributor."""

    contributor: Contributor

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refusal = portal_refusal(request)
        if refusal is not None:
            return refusal
        self.contributor = portal_contributor(request)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
