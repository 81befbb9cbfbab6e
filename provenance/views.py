"""The snapshot pages: the list, and one snapshot with its members, exclusions, the consents it
rests on, what changed since the last approved snapshot of its dataset, and the four-eyes
decision. Thin: the guard, then the selectors and services the API and the CLI use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views import View
from django.views.decorators.http import require_safe

from core.exceptions import ApplicationError
from core.roles import Actor, Role, has_role
from core.web.decisions import FourEyesDecisionMixin, refusal_words
from core.web.lists import newest_first_list_page
from core.web.navigation import PAGE_ROLES
from core.web.permissions import RoleRequiredMixin, role_required
from provenance.models import Dataset, ReviewDecision, Snapshot, SnapshotStatus
from provenance.models.snapshots import REQUIRED_APPROVALS
from provenance.selectors import snapshot_approvals, snapshot_lapsed_consents, snapshots_approvals
from provenance.services.snapshots import snapshot_approve, snapshot_reject
from provenance.snapshot_review import snapshot_consents, snapshot_diff, snapshot_members_page

SNAPSHOT_PAGE_ROLES = PAGE_ROLES["/snapshots/"]
MEMBERS_PAGE_SIZE = 48
EXCLUSIONS_SHOWN = 200
FILTER_DATASETS_MAX = 500

# What each status means, for a reader who is not an engineer.
STATUS_NOTES = {
    SnapshotStatus.DRAFT: "Being prepared; not yet submitted for review.",
    SnapshotStatus.IN_REVIEW: "Waiting for two reviewers to approve it. Until then nobody may train a model on it.",
    SnapshotStatus.APPROVED: "Approved by two reviewers: models may be trained on exactly these images.",
    SnapshotStatus.REJECTED: "Rejected by a reviewer: it can never be used. A new snapshot must be built.",
    SnapshotStatus.TAINTED: "Tainted: a consent it rests on no longer holds, so it can never be used again.",
}
# Why an image was left out (SnapshotExclusion.reason), in words.
EXCLUSION_WORDS = {
    "not_cleared": "not yet cleared by the automatic checks",
    "flagged": "flagged by a check and not yet decided",
    "rejected": "rejected by a reviewer",
    "withdrawn": "withdrawn (its consent was revoked)",
    "erased": "erased",
    "no_consent": "no consent that covers this use",
}


class SnapshotFilterForm(forms.Form):
    dataset = forms.ChoiceField(label="Dataset", required=False)
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "any"), *((s, s) for s in SnapshotStatus.values)])

    def __init__(self, *args: Any, datasets: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "any"), *((slug, slug) for slug in datasets)]  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SnapshotRow:
    snapshot: Snapshot
    approvals: list[str]


@role_required(*SNAPSHOT_PAGE_ROLES)
@require_safe
def snapshot_list_page(request: HttpRequest) -> HttpResponse:
    datasets = Dataset.objects.visible_to(request.user).filter(snapshots__isnull=False).distinct().order_by("slug")
    form = SnapshotFilterForm(request.GET or None, datasets=list(datasets.values_list("slug", flat=True)[:FILTER_DATASETS_MAX]))

    def matching(filters: dict[str, Any]) -> QuerySet[Snapshot]:
        snapshots = Snapshot.objects.visible_to(request.user).select_related("dataset", "created_by")
        if filters.get("dataset"):
            snapshots = snapshots.filter(dataset__slug=filters["dataset"])
        if filters.get("status"):
            snapshots = snapshots.filter(status=filters["status"])
        return snapshots

    def rows(snapshots: list[Snapshot]) -> list[SnapshotRow]:
        approvals = snapshots_approvals(snapshots)
        return [SnapshotRow(snapshot, approvals[snapshot.pk]) for snapshot in snapshots]

    return newest_first_list_page(
        request,
        template="provenance/snapshot_list.html",
        form=form,
        bad_filter="Some of the filters could not be used; correct them and press Filter again.",
        queryset=matching,
        rows=rows,
    )


class SnapshotPage(RoleRequiredMixin, FourEyesDecisionMixin, View):
    """GET: the snapshot. POST (reviewers): `decision` approve or reject, with a `reason` for a
    rejection, through the services the CLI calls (core.web.decisions.FourEyesDecisionMixin)."""

    required_roles = SNAPSHOT_PAGE_ROLES
    noun = "snapshot"
    template_name = "provenance/snapshot.html"

    def get(self, request: HttpRequest, snapshot_id: Any) -> HttpResponse:
        snapshot = self.subject(request, snapshot_id=snapshot_id)
        context = self.page_context(request, snapshot)
        return render(request, self.template_name, context, status=400 if context["members_problem"] else 200)

    def approve(self, subject: Snapshot, reviewer: Actor) -> str:
        snapshot = snapshot_approve(snapshot_id=str(subject.pk), reviewer=reviewer)
        if snapshot.status == SnapshotStatus.APPROVED:
            return "Snapshot approved: yours was the second approval. Models may now be trained on it."
        return "Your approval is recorded. A second reviewer must approve it too."

    def reject(self, subject: Snapshot, reviewer: Actor, reason: str) -> None:
        snapshot_reject(snapshot_id=str(subject.pk), reviewer=reviewer, reason=reason)

    def refusal(self, error: ApplicationError, subject: Snapshot) -> str:
        return _refusal(error, subject)

    def four_eyes(self, request: HttpRequest, subject: Snapshot) -> dict[str, Any]:
        return _four_eyes(request, subject)

    def subject(self, request: HttpRequest, **kwargs: Any) -> Snapshot:
        visible = Snapshot.objects.visible_to(request.user).select_related("dataset", "created_by")
        return get_object_or_404(visible, pk=kwargs["snapshot_id"])

    def page_context(self, request: HttpRequest, snapshot: Snapshot) -> dict[str, Any]:
        members_problem = None
        try:
            members = snapshot_members_page(
                snapshot=snapshot, user=request.user, after=request.GET.get("after"), limit=MEMBERS_PAGE_SIZE
            )
        except ApplicationError as error:
            members_problem = error.message
            members = snapshot_members_page(snapshot=snapshot, user=request.user, limit=MEMBERS_PAGE_SIZE)
        exclusions = snapshot.exclusions.order_by("reason", "asset_id")
        return {
            "snapshot": snapshot,
            "four_eyes": _four_eyes(request, snapshot),
            "members": members,
            "members_problem": members_problem,
            "later_members_page": bool(request.GET.get("after")) and members_problem is None,
            "exclusions": [(row, EXCLUSION_WORDS.get(row.reason, row.reason)) for row in exclusions[:EXCLUSIONS_SHOWN]],
            "exclusion_count": exclusions.count(),
            "consents": snapshot_consents(snapshot=snapshot, user=request.user),
            "diff": snapshot_diff(snapshot=snapshot, user=request.user),
        }


def _four_eyes(request: HttpRequest, snapshot: Snapshot) -> dict[str, Any]:
    """The context of partials/four_eyes.html for this snapshot."""
    lapsed = snapshot_lapsed_consents(snapshot) if snapshot.status in (SnapshotStatus.IN_REVIEW, SnapshotStatus.TAINTED) else []
    return {
        "noun": "snapshot",
        "created": "built",
        "creator": snapshot.created_by.get_username(),
        "status": snapshot.status,
        "status_note": STATUS_NOTES.get(SnapshotStatus(snapshot.status), ""),
        "status_reason": snapshot.status_reason if snapshot.status in (SnapshotStatus.REJECTED, SnapshotStatus.TAINTED) else "",
        "lapsed": lapsed,
        "approvals": snapshot_approvals(snapshot),
        "required": REQUIRED_APPROVALS,
        "decisions": ReviewDecision.objects.filter(snapshot=snapshot, subject_type="snapshot").select_related("reviewer"),
        "may_decide": has_role(request.user, Role.REVIEWER) and snapshot.status == SnapshotStatus.IN_REVIEW,
        "approve_hint": "Approve when every image, exclusion and consent on this page is as it should be.",
        "action": request.path,
        "problem": None,
        "done": None,
    }


def _refusal(error: ApplicationError, snapshot: Snapshot) -> str:
    if error.code == "snapshot_tainted":
        return (
            f"This snapshot is tainted ({snapshot.status_reason or 'a consent was revoked'}): "
            "it can never be approved or used. Nothing was recorded."
        )
    if error.code == "consent_lapsed":
        return (
            "A consent this snapshot rests on no longer covers it (it expired or was revoked after the snapshot was built), "
            "so it cannot be approved. Nothing was recorded; a new snapshot must be built."
        )
    return refusal_words(error, noun="snapshot", created="built", status=snapshot.status)
