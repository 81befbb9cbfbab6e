"""The base-model pages: the list, and one base model (what it is, the digest of every file, who
registered it) with its four-eyes decision. Thin: the guard, then the selectors and services
the API and the CLI use. Reviewers, ML engineers and compliance staff open them, as they do
the snapshots."""

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
from training.models import BASE_MODEL_REQUIRED_APPROVALS, BaseModel, BaseModelReview, BaseModelStatus
from training.selectors import base_model_approvals, base_models_approvals
from training.services import base_model_approve, base_model_reject

BASE_MODEL_PAGE_ROLES = PAGE_ROLES["/snapshots/"]
FILES_SHOWN = 500
# The statuses whose reason the page shows: why it was refused or withdrawn.
_EXPLAINED = (BaseModelStatus.REJECTED, BaseModelStatus.REVOKED)

STATUS_NOTES = {
    BaseModelStatus.IN_REVIEW: "Waiting for two reviewers to approve it. Until then nobody may train a model from it.",
    BaseModelStatus.APPROVED: "Approved by two reviewers: models may be trained from exactly these files.",
    BaseModelStatus.REJECTED: "Rejected by a reviewer: it can never be used.",
    BaseModelStatus.REVOKED: (
        "Approved once, withdrawn since: no new model may start from it, and models made from it may not generate."
    ),
}


class BaseModelFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "any"), *((s, s) for s in BaseModelStatus.values)])


@dataclass(frozen=True)
class BaseModelRow:
    base_model: BaseModel
    approvals: list[str]


@role_required(*BASE_MODEL_PAGE_ROLES)
@require_safe
def base_model_list_page(request: HttpRequest) -> HttpResponse:
    form = BaseModelFilterForm(request.GET or None)

    def matching(filters: dict[str, Any]) -> QuerySet[BaseModel]:
        base_models = BaseModel.objects.visible_to(request.user).select_related("registered_by")
        return base_models.filter(status=filters["status"]) if filters.get("status") else base_models

    def rows(base_models: list[BaseModel]) -> list[BaseModelRow]:
        approvals = base_models_approvals(base_models)
        return [BaseModelRow(row, approvals[row.pk]) for row in base_models]

    return newest_first_list_page(
        request,
        template="training/base_model_list.html",
        form=form,
        bad_filter="The filter could not be used; choose a status from the list and press Filter again.",
        queryset=matching,
        rows=rows,
    )


class BaseModelPage(RoleRequiredMixin, FourEyesDecisionMixin, View):
    """GET: the base model. POST (reviewers): `decision` approve or reject, with a `reason` for a
    rejection, through the services the CLI calls (core.web.decisions.FourEyesDecisionMixin)."""

    required_roles = BASE_MODEL_PAGE_ROLES
    noun = "base model"
    template_name = "training/base_model.html"

    def get(self, request: HttpRequest, base_model_id: Any) -> HttpResponse:
        base_model = self.subject(request, base_model_id=base_model_id)
        return render(request, self.template_name, self.page_context(request, base_model))

    def approve(self, subject: BaseModel, reviewer: Actor) -> str:
        base_model = base_model_approve(base_model_id=subject.pk, reviewer=reviewer)
        if base_model.status == BaseModelStatus.APPROVED:
            return "Base model approved: yours was the second approval. Models may now be trained from it."
        return "Your approval is recorded. A second reviewer must approve it too."

    def reject(self, subject: BaseModel, reviewer: Actor, reason: str) -> None:
        base_model_reject(base_model_id=subject.pk, reviewer=reviewer, reason=reason)

    def refusal(self, error: ApplicationError, subject: BaseModel) -> str:
        return _refusal(error, subject)

    def four_eyes(self, request: HttpRequest, subject: BaseModel) -> dict[str, Any]:
        return _four_eyes(request, subject)

    def subject(self, request: HttpRequest, **kwargs: Any) -> BaseModel:
        return get_object_or_404(
            BaseModel.objects.visible_to(request.user).select_related("registered_by"), pk=kwargs["base_model_id"]
        )

    def page_context(self, request: HttpRequest, base_model: BaseModel) -> dict[str, Any]:
        files = base_model.files if isinstance(base_model.files, list) else []
        return {
            "base_model": base_model,
            "four_eyes": _four_eyes(request, base_model),
            "files": files[:FILES_SHOWN],
            "file_count": len(files),
            "total_size": sum(int(entry.get("size") or 0) for entry in files if isinstance(entry, dict)),
        }


def _four_eyes(request: HttpRequest, base_model: BaseModel) -> dict[str, Any]:
    """The context of partials/four_eyes.html for this base model."""
    registrant = base_model.registered_by.get_username() if base_model.registered_by else ""
    return {
        "noun": "base model",
        "created": "registered",
        "creator": registrant,
        "status": base_model.status,
        "status_note": STATUS_NOTES.get(BaseModelStatus(base_model.status), ""),
        "status_reason": base_model.status_reason if base_model.status in _EXPLAINED else "",
        "lapsed": [],
        "approvals": base_model_approvals(base_model),
        "required": BASE_MODEL_REQUIRED_APPROVALS,
        "decisions": BaseModelReview.objects.filter(base_model=base_model).select_related("reviewer"),
        "may_decide": has_role(request.user, Role.REVIEWER) and base_model.status == BaseModelStatus.IN_REVIEW,
        "approve_hint": "Approve when its licence and origin allow training, and its files are the ones listed here.",
        "action": request.path,
        "problem": None,
        "done": None,
    }


def _refusal(error: ApplicationError, base_model: BaseModel) -> str:
    if error.code == "base_model_changed":
        changed = ", ".join(error.extra.get("changed_files", [])[:10])
        return (
            f"The model's files have changed since it was registered ({changed}), so it cannot be approved. "
            "Nothing was recorded; it must be registered again."
        )
    return refusal_words(error, noun="base model", created="registered", status=base_model.status)
