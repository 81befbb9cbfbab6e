"""The contributor's home page (/portal/): their images with status, counts, consents and news."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from core.exceptions import ApplicationError
from core.web.keyset import newest_first
from provenance.models import AssetStatus, Contributor
from provenance.portal.access import PortalPageMixin
from provenance.portal.selectors import (
    ASSET_STATUS_MEANING,
    findings_explained,
    portal_assets,
    portal_consents,
    portal_notices,
    portal_status_counts,
)
from provenance.services.portal import contributor_portal_visit

HOME_PAGE_SIZE = 24
NOTICES_SINCE = "portal_notices_since"  # the session key; its value an ISO time, or "" for "ever"


class StatusFilter(forms.Form):
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Every status"), *[(s, s) for s in AssetStatus.values]]
    )


def notices_since(request: HttpRequest, contributor: Contributor) -> datetime | None:
    """Since when the home page's news runs: the contributor's visit before this browser
    session's first look at the page (None: they never looked before, so everything is news).

    The first home page of a session reads the visit stored on the contributor and remembers it
    in the session; every look, that one included, then stores the time of the look on the
    contributor. So the news stays put while they refresh or page through this visit, and the
    next session (after logging out, on another device) shows only what happened after this one.
    """
    remembered = request.session.get(NOTICES_SINCE)
    previous = contributor_portal_visit(contributor=contributor)
    if remembered is None:
        request.session[NOTICES_SINCE] = previous.isoformat() if previous else ""
        return previous
    return datetime.fromisoformat(remembered) if remembered else None


class PortalHomeView(PortalPageMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = StatusFilter(request.GET or None)
        status = form.cleaned_data["status"] if form.is_bound and form.is_valid() else ""
        since = notices_since(request, self.contributor)
        context: dict[str, Any] = {
            "contributor": self.contributor,
            "form": form,
            "status": status,
            "problem": None,
            "rows": [],
            "next_url": None,
            "first_page": not request.GET.get("after"),
            "counts": portal_status_counts(self.contributor),
            "consents": portal_consents(self.contributor),
            "notices": portal_notices(self.contributor, since=since),
            "since": since,
        }
        if form.is_bound and not form.is_valid():
            context["problem"] = "Choose one of the listed statuses."
            return render(request, "portal/home.html", context, status=400)
        matching = portal_assets(self.contributor, status=status or None).select_related("consent")
        try:
            page = newest_first(matching, after=request.GET.get("after") or None, limit=HOME_PAGE_SIZE)
        except ApplicationError as error:
            context["problem"] = error.message
            return render(request, "portal/home.html", context, status=error.status)
        explained = findings_explained([str(a.pk) for a in page.rows if a.status == AssetStatus.FLAGGED])
        context["rows"] = [
            {"asset": a, "meaning": ASSET_STATUS_MEANING[a.status], "found": explained.get(str(a.pk), [])} for a in page.rows
        ]
        context["total"] = matching.count()
        if page.next_cursor:
            query = request.GET.copy()
            query["after"] = page.next_cursor
            context["next_url"] = f"?{query.urlencode()}"
        return render(request, "portal/home.html", context)
