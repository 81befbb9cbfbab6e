"""The audit trail pages: the hash-chained log newest first, filtered; the decisions in it as a
streamed CSV; and "Verify chain", which recomputes the chain as a background job."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views import View
from django.views.decorators.http import require_safe
from django_htmx.http import HttpResponseClientRedirect

from core.auditlog_selectors import (
    AUDITLOG_COUNT_CAP,
    DECISION_COLUMNS,
    DECISION_TYPES,
    AuditFilters,
    auditlog_page,
    decision_rows,
)
from core.auditlog_verify import AUDITLOG_VERIFY_KIND
from core.background import background_start, job_url
from core.models import AuditEvent, EventType
from core.roles import user_roles
from core.spreadsheet import csv_safe
from core.web.navigation import PAGE_ROLES
from core.web.permissions import RoleRequiredMixin, role_required

AUDITLOG_ROLES = PAGE_ROLES["/auditlog/"]
AUDITLOG_PAGE_SIZE = 50
# The largest `before` a page link may carry: seq is a bigint.
_SEQ_MAX = 2**63 - 1
_CSV_ROWS_PER_CHUNK = 1000
_DETAIL_TEXT_MAX = 160


class AuditLogFilterForm(forms.Form):
    event_type = forms.ChoiceField(label="Event type", required=False, choices=[("", "any"), *EventType.choices])
    actor = forms.CharField(label="Who (username)", required=False, max_length=150)
    subject_type = forms.CharField(
        label="Subject type", required=False, max_length=64, help_text="For example asset, snapshot, finding, consent."
    )
    subject_id = forms.CharField(label="Subject id", required=False, max_length=64)
    since = forms.DateField(label="From (date)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="Up to and including (date)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    # The previous page's last event: a page link, not a field anyone fills in.
    before = forms.IntegerField(required=False, min_value=1, max_value=_SEQ_MAX, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "This date is before the “From” date.")
        return data

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            event_type=data["event_type"],
            actor=data["actor"],
            subject_type=data["subject_type"],
            subject_id=data["subject_id"],
            since=_midnight(data["since"]),
            until=_midnight(data["until"] + timedelta(days=1)) if data["until"] and data["until"] < date.max else None,
        )


def _midnight(day: date | None) -> datetime | None:
    return timezone.make_aware(datetime.combine(day, time.min)) if day else None


@dataclass(frozen=True)
class SubjectPage:
    """The page an event's subject has, if any, and who may open it. `id_key`: the subject's
    id is in the event's details under this key (a finding's page is its asset's)."""

    url_name: str
    roles: tuple[str, ...]
    id_key: str = ""


# Other helpers build some of these pages; a name not (yet) in the URLconf just means no link.
SUBJECT_PAGES: dict[str, SubjectPage] = {
    "asset": SubjectPage("review-asset", PAGE_ROLES["/review/"]),
    "finding": SubjectPage("review-asset", PAGE_ROLES["/review/"], id_key="asset_id"),
    "snapshot": SubjectPage("snapshot-detail", PAGE_ROLES["/snapshots/"]),
    "basemodel": SubjectPage("base-model-detail", PAGE_ROLES["/snapshots/"]),
}


def subject_url(event: AuditEvent, viewer_roles: set[str]) -> str | None:
    """The link to the event's subject for a viewer with `viewer_roles`, or None."""
    page = SUBJECT_PAGES.get(event.subject_type)
    if page is None or not viewer_roles & set(page.roles):
        return None
    target = event.details.get(page.id_key) if page.id_key and isinstance(event.details, dict) else event.subject_id
    if not target:
        return None
    try:
        return reverse(page.url_name, args=[str(target)])
    except NoReverseMatch:
        return None


def details_in_words(details: Any) -> list[tuple[str, str]]:
    """An event's details as short (label, value) pairs for the page."""
    if not isinstance(details, dict):
        return [("details", _shorten(json.dumps(details, ensure_ascii=False)))] if details else []
    pairs = []
    for key, value in details.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        pairs.append((str(key).replace("_", " "), _shorten(text)))
    return pairs


def _shorten(text: str) -> str:
    return text if len(text) <= _DETAIL_TEXT_MAX else text[: _DETAIL_TEXT_MAX - 1] + "…"


@dataclass(frozen=True)
class EventRow:
    event: AuditEvent
    subject_url: str | None
    details: list[tuple[str, str]]


def _filter_form(request: HttpRequest) -> tuple[AuditLogFilterForm, str | None]:
    """The filter form from the query string, and the problem to show when it cannot be used."""
    form = AuditLogFilterForm(request.GET or None)
    if not form.is_bound or form.is_valid():
        return form, None
    if "before" in form.errors:
        return form, "This page link is not valid; start again from the newest events."
    return form, "Some of the filters could not be used; correct them and press Filter again."


def _page_context(form: AuditLogFilterForm) -> dict[str, Any]:
    return {
        "form": form,
        "decision_types": DECISION_TYPES,
        "count_cap": f"{AUDITLOG_COUNT_CAP:,}",
        "rows": [],
        "page": None,
        "problem": None,
    }


@role_required(*AUDITLOG_ROLES)
@require_safe
def auditlog_page_view(request: HttpRequest) -> HttpResponse:
    form, problem = _filter_form(request)
    context = _page_context(form)
    if problem:
        context["problem"] = problem
        return render(request, "core/auditlog.html", context, status=400)
    filters = form.filters() if form.is_bound else AuditFilters()
    before = form.cleaned_data.get("before") if form.is_bound else None
    page = auditlog_page(filters=filters, before=before, limit=AUDITLOG_PAGE_SIZE)
    roles = user_roles(request.user)
    query = request.GET.copy()
    query.pop("before", None)
    filtered = f"?{query.urlencode()}" if query else ""
    next_url = None
    if page.next_before is not None:
        query["before"] = str(page.next_before)
        next_url = f"?{query.urlencode()}"
    context.update(
        page=page,
        rows=[EventRow(event, subject_url(event, roles), details_in_words(event.details)) for event in page.events],
        first_page=before is None,
        newest_url=f"{reverse('auditlog')}{filtered}",
        next_url=next_url,
        csv_url=f"{reverse('auditlog-decisions')}{filtered}",
    )
    return render(request, "core/auditlog.html", context)


@role_required(*AUDITLOG_ROLES)
@require_safe
def auditlog_decisions_csv(request: HttpRequest) -> HttpResponse:
    """The decisions matching the page's filters (whatever page the reader was on), streamed."""
    form, problem = _filter_form(request)
    if problem:
        context = _page_context(form)
        context["problem"] = problem
        return render(request, "core/auditlog.html", context, status=400)
    filters = form.filters() if form.is_bound else AuditFilters()
    response = StreamingHttpResponse(csv_chunks(decision_rows(filters)), content_type="text/csv; charset=utf-8")
    day = timezone.now().date().isoformat()
    response["Content-Disposition"] = f'attachment; filename="cleanroom-decisions-{day}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response  # type: ignore[return-value]  # role_required's typing knows no streamed answer


def csv_chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    """The header, then `rows`, as CSV text in chunks of some hundred rows: few enough writes
    to be quick, small enough that the file is never whole in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(DECISION_COLUMNS)
    for number, row in enumerate(rows, start=1):
        writer.writerow([csv_safe(cell) for cell in row])
        if number % _CSV_ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


class AuditlogVerifyStart(RoleRequiredMixin, View):
    """POST: start `Verify chain` and send the browser to the job's page (with htmx: HX-Redirect)."""

    required_roles = AUDITLOG_ROLES

    def post(self, request: HttpRequest) -> HttpResponse:
        requester = cast(User, request.user)  # the guard let only signed-in users this far
        job = background_start(kind=AUDITLOG_VERIFY_KIND, actor=requester, params={})
        if request.htmx:  # type: ignore[attr-defined]
            return HttpResponseClientRedirect(job_url(job))
        return HttpResponseRedirect(job_url(job))
