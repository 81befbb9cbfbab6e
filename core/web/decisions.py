"""The four-eyes decision on a web page (a snapshot, a base model): the form a reviewer posts,
and the four-eyes refusals (core.four_eyes) in plain words. The rule itself stays in the
services; this only says on the page what they refused and why."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from core.exceptions import ApplicationError
from core.roles import Actor, Role, has_role

REASON_MAX = 10_000


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(label="Reason", required=False, max_length=REASON_MAX, strip=True)

    def problem(self) -> str | None:
        """What is wrong with the post, in words for the page; None when it is usable."""
        if self.is_valid():
            if self.cleaned_data["decision"] == "reject" and not self.cleaned_data["reason"]:
                return "Write a reason for the rejection: it goes in the permanent record."
            return None
        if "reason" in self.errors:
            return f"The reason is too long: write at most {REASON_MAX:,} characters. Nothing was recorded."
        return "This form asked for neither Approve nor Reject; reload the page and press one of them."


def refusal_words(error: ApplicationError, *, noun: str, created: str, status: str) -> str:
    """A four-eyes refusal as a sentence for a reviewer. `created` says how the creator made the
    subject ("built", "registered"); `status` is the subject's status now."""
    if error.code == "permission_denied":
        return (
            f"You {created} this {noun}, so you may not approve or reject it: "
            f"two other reviewers must decide. Nothing was recorded."
        )
    if error.code == "not_in_review":
        return (
            f"This {noun} is already {status.replace('_', ' ')}: a decision was made while you had the page open "
            f"(perhaps in another tab). Nothing was recorded; the page now shows where it stands."
        )
    if error.code == "already_approved_by_you":
        return f"You have already approved this {noun}. A second reviewer, not you, must approve it too."
    if error.code == "reason_required":
        return "Write a reason for the rejection: it goes in the permanent record."
    return error.message


class FourEyesDecisionMixin:
    """The POST of a page with a four-eyes decision (partials/four_eyes.html): a reviewer's
    Approve or Reject with its reason, through the subject's services; then back to the page
    with a message, or with htmx the decision section alone. A refusal is explained on the page
    (role="alert") and changes nothing. The view supplies the subject and the wording."""

    noun: str  # "snapshot"
    template_name: str

    def subject(self, request: HttpRequest, **kwargs: Any) -> Any:
        raise NotImplementedError

    def approve(self, subject: Any, reviewer: Actor) -> str:
        """Record the approval; return what the page says it did."""
        raise NotImplementedError

    def reject(self, subject: Any, reviewer: Actor, reason: str) -> None:
        raise NotImplementedError

    def refusal(self, error: ApplicationError, subject: Any) -> str:
        raise NotImplementedError

    def four_eyes(self, request: HttpRequest, subject: Any) -> dict[str, Any]:
        """The context of partials/four_eyes.html."""
        raise NotImplementedError

    def page_context(self, request: HttpRequest, subject: Any) -> dict[str, Any]:
        raise NotImplementedError

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        subject = self.subject(request, **kwargs)
        if not has_role(request.user, Role.REVIEWER):
            # A forged post: the page shows no decision to other roles.
            raise PermissionDenied(f"only reviewers decide on {self.noun}s")
        form = DecisionForm(request.POST)
        problem, status, done = form.problem(), 400, None
        if problem is None:
            try:
                if form.cleaned_data["decision"] == "approve":
                    done = self.approve(subject, request.user)
                else:
                    self.reject(subject, request.user, form.cleaned_data["reason"])
                    done = f"{self.noun.capitalize()} rejected. Your reason is in the permanent record."
            except ApplicationError as error:
                subject.refresh_from_db()
                problem, status = self.refusal(error, subject), error.status
        subject.refresh_from_db()
        if request.htmx:  # type: ignore[attr-defined]
            # htmx swaps only 2xx answers: a refusal comes back as the section, with its alert.
            four_eyes = {**self.four_eyes(request, subject), "problem": problem, "done": done}
            return render(request, "partials/four_eyes.html", {"four_eyes": four_eyes})
        if done is not None:
            messages.success(request, done)
            return HttpResponseRedirect(request.path)
        context = self.page_context(request, subject)
        context["four_eyes"].update(problem=problem)
        return render(request, self.template_name, context, status=status)
