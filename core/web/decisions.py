"""The four-eyes decision on a web page (a snapshot, a base model): the form a reviewer posts,
and the four-eyes refusals (core.four_eyes) in plain words. The rule itself stays in the
services; this only says on the page what they refused and why."""

from __future__ import annotations

from django import forms

from core.exceptions import ApplicationError

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
