"""The bulk decision page (`/review/bulk/`): one decision and one reason for every open finding
that matches the queue's filters, on every page of the queue. It shows how many findings on how
many images will change; the reviewer confirms that count. A small set is decided in the
request, a large one by a background job whose page shows the progress."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View

from auditing.selectors import ReviewFilters
from auditing.services.bulk_decisions import (
    BULK_DECISION_KIND,
    BulkDecisionPlan,
    BulkScope,
    bulk_decision_plan,
    bulk_decision_run,
    bulk_decision_scope,
)
from auditing.views import STANDARD_REASONS, QueueFilterForm
from core.background import background_start, job_url
from core.exceptions import ApplicationError
from core.web.navigation import PAGE_ROLES
from core.web.permissions import RoleRequiredMixin

# Up to this many findings are decided while the reviewer waits; more go to a background job.
INLINE_LIMIT = 100
FILTER_FIELDS = ("auditor", "code", "dataset", "contributor", "since", "until", "min_score", "max_score")


class BulkDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision", choices=[("dismiss", "Dismiss"), ("confirm", "Confirm")], widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label="Reason",
        max_length=10_000,
        help_text="Pick a standard reason or write your own; it goes in the permanent record of each finding.",
        widget=forms.TextInput(attrs={"list": "standard-reasons"}),
        error_messages={"required": "Write a reason for your decision: it goes in the permanent record."},
    )
    # The number of findings the reviewer was shown: the set they confirm.
    count = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=1_000_000_000)


class BulkDecisionPage(RoleRequiredMixin, View):
    """GET: what a decision over the filters in the query string would change, and the form.
    POST (to the same query string): decide them, or explain on the page why not."""

    required_roles = PAGE_ROLES["/review/"]

    def get(self, request: HttpRequest) -> HttpResponse:
        filters = QueueFilterForm(request.GET)
        if not filters.is_valid():
            return self._refusal(request)
        scope = bulk_decision_scope(reviewer=request.user, filters=filters.filters())
        form = BulkDecisionForm(initial={"count": scope.findings})
        return render(request, "auditing/bulk.html", self._context(filters, scope, form))

    def post(self, request: HttpRequest) -> HttpResponse:
        filters = QueueFilterForm(request.GET)
        if not filters.is_valid():
            return self._refusal(request)
        form = BulkDecisionForm(request.POST)
        if not form.is_valid():
            scope = bulk_decision_scope(reviewer=request.user, filters=filters.filters())
            problem = "Nothing was decided: correct the form below."
            if "count" in form.errors:  # hidden: only an edited or broken page sends a bad one
                problem = "Nothing was decided: this page was out of date or changed. Check the count below and decide again."
                form = BulkDecisionForm({**request.POST.dict(), "count": scope.findings})
            context = self._context(filters, scope, form, problem=problem)
            return render(request, "auditing/bulk.html", context, status=400)
        try:
            plan = bulk_decision_plan(
                reviewer=request.user,
                filters=filters.filters(),
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
                seen_count=form.cleaned_data["count"],
            )
            if plan.count > INLINE_LIMIT:
                return self._start_job(request, plan)
            outcome = bulk_decision_run(reviewer=request.user, plan=plan).to_result()
        except ApplicationError as error:
            scope = bulk_decision_scope(reviewer=request.user, filters=filters.filters())
            # The form now confirms the count on the page, so the reviewer can accept the new one.
            form = BulkDecisionForm({**request.POST.dict(), "count": scope.findings})
            context = self._context(filters, scope, form, problem=error.message)
            return render(request, "auditing/bulk.html", context, status=error.status)
        messages.success(request, outcome_in_words(outcome))
        query = filter_query(filters)
        return HttpResponseRedirect(f"{reverse('review-queue')}?{query}" if query else reverse("review-queue"))

    def _start_job(self, request: HttpRequest, plan: BulkDecisionPlan) -> HttpResponse:
        reviewer = request.user  # signed in: the guard let only reviewers through
        job = background_start(kind=BULK_DECISION_KIND, actor=reviewer, params=plan.to_params(), total=plan.count)  # type: ignore[arg-type]
        if request.htmx:  # type: ignore[attr-defined]
            return HttpResponse(status=204, headers={"HX-Redirect": job_url(job)})
        return HttpResponseRedirect(job_url(job))

    def _refusal(self, request: HttpRequest) -> HttpResponse:
        context = {
            "problem": "Some of the filters could not be used, so nothing can be decided. Go back to the queue, "
            "correct them and press Filter again.",
            "filter_query": "",
        }
        return render(request, "auditing/bulk.html", context, status=400)

    def _context(self, filters: QueueFilterForm, scope: BulkScope, form: BulkDecisionForm, problem: str = "") -> dict[str, Any]:
        return {
            "scope": scope,
            "form": form,
            "problem": problem,
            "filters_words": filters_in_words(filters.filters()),
            "filter_query": filter_query(filters),
            "standard_reasons": STANDARD_REASONS,
            "in_background": scope.findings > INLINE_LIMIT,
        }


def filter_query(filters: QueueFilterForm) -> str:
    """The query string of the filters alone (no page, no order): the queue's and this page's."""
    return urlencode([(name, filters.data[name]) for name in FILTER_FIELDS if filters.data.get(name)])


def filters_in_words(filters: ReviewFilters) -> list[str]:
    """Each filter as a short phrase a reviewer reads back before deciding."""
    words = []
    if filters.auditor:
        words.append(f"flagged by the {filters.auditor} check")
    if filters.code:
        words.append(f"finding code {filters.code}")
    if filters.dataset:
        words.append(f"in the dataset {filters.dataset}")
    if filters.contributor:
        words.append(f"supplied by {filters.contributor}")
    if filters.since:
        words.append(f"found on or after {filters.since:%-d %b %Y}")
    if filters.until:
        words.append(f"found before {filters.until:%-d %b %Y}")
    if filters.min_score is not None:
        words.append(f"scored at least {filters.min_score:g}")
    if filters.max_score is not None:
        words.append(f"scored at most {filters.max_score:g}")
    return words


def outcome_in_words(result: dict[str, Any]) -> str:
    """A bulk decision's result (BulkOutcome.to_result) in one sentence."""
    done = "dismissed" if result["decision"] == "dismiss" else "confirmed"
    parts = [f"{result['decided']} {done}"]
    if result["held_total"]:
        holders = ", ".join(f"{name}: {count}" for name, count in result["held"])
        parts.append(f"{result['held_total']} skipped (held by {holders})")
    if result["gone"]:
        parts.append(f"{result['gone']} skipped (already decided by someone else)")
    return "; ".join(parts) + ". Each decision is in the record under your name."
