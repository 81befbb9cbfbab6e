"""A filtered list page, newest first in keyset pages (the snapshot and base-model lists): the
filter form checked, the page read, the "Next" link built, every refusal said on the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.exceptions import ApplicationError
from core.web.keyset import newest_first

LIST_PAGE_SIZE = 50


def newest_first_list_page(
    request: HttpRequest,
    *,
    template: str,
    form: forms.Form,
    bad_filter: str,
    queryset: Callable[[dict[str, Any]], QuerySet],
    rows: Callable[[list[Any]], list[Any]],
) -> HttpResponse:
    """Render `template` with `form`, the page's `rows` (what `rows(models)` makes of them), the
    count of matches and the next page's link. `queryset(cleaned_data)` is what the viewer may
    see, filtered (cleaned_data is empty when the form was not filled in); `bad_filter` is what
    the page says (400) when the form does not validate; an edited page link is refused too."""
    after = request.GET.get("after") or None
    context: dict[str, Any] = {
        "form": form,
        "rows": [],
        "total": None,
        "problem": None,
        "next_url": None,
        "first_page": not after,
    }
    if form.is_bound and not form.is_valid():
        context["problem"] = bad_filter
        return render(request, template, context, status=400)
    matching = queryset(form.cleaned_data if form.is_bound else {})
    try:
        page = newest_first(matching, after=after, limit=LIST_PAGE_SIZE)
    except ApplicationError as error:
        context["problem"] = error.message
        return render(request, template, context, status=error.status)
    context.update(rows=rows(page.rows), total=matching.count())
    if page.next_cursor:
        query = request.GET.copy()
        query["after"] = page.next_cursor
        context["next_url"] = f"?{query.urlencode()}"
    return render(request, template, context)
