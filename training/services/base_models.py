"""Base models: registered from a local directory with the digest of every file, approved by
two distinct reviewers (neither the registrant), as snapshots are."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from core.audit import actor_name, audit_append
from core.exceptions import ApplicationError, PermissionDenied
from core.four_eyes import FourEyes
from core.models import EventType
from core.roles import Actor, Role, actor_user, has_role, require_role
from core.state import StateMachine
from training.models import (
    BASE_MODEL_REQUIRED_APPROVALS,
    BASE_MODEL_TRANSITIONS,
    BaseModel,
    BaseModelReview,
    BaseModelStatus,
)
from training.selectors import base_model_approvals, base_model_get
from training.weights import changed_files, scan_pipeline_directory

BASE_MODEL_STATES = StateMachine(BaseModel, BASE_MODEL_TRANSITIONS, EventType.BASE_MODEL_STATUS_CHANGED, "base model")


def base_model_transition(*, base_model_id, to: str, actor: Actor, reason: str = "") -> BaseModel:
    return BASE_MODEL_STATES.transition(base_model_id, to=to, actor=actor, reason=reason)


def _resolve_directory(directory: str | Path) -> Path:
    """An absolute path as given; a relative one from the working directory, else from
    CLEANROOM_MODELS_DIR (where operators keep base models)."""
    path = Path(directory).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return Path(settings.CLEANROOM_MODELS_DIR) / path


def base_model_register(
    *, directory: str | Path, name: str, licence: str, provenance: str = "", actor: Actor = None
) -> BaseModel:
    """Hash every file of a local `save_pretrained` directory and submit it for review.

    Nothing is copied or downloaded: the directory stays where it is, and its digests are
    checked again before every training run and every load.
    """
    require_role(actor, Role.ML_ENGINEER, Role.OPERATOR, action="register base models")
    name, licence = name.strip(), licence.strip()
    if not name:
        raise ApplicationError("a base model needs a name", code="name_required")
    if not licence:
        raise ApplicationError("a base model needs a licence (an SPDX id)", code="licence_required")
    scanned = scan_pipeline_directory(_resolve_directory(directory))  # hashing runs outside the transaction
    try:
        with transaction.atomic():
            base_model = BaseModel.objects.create(
                name=name,
                licence=licence,
                declared_provenance=provenance,
                directory=str(scanned.directory),
                pipeline_class=scanned.pipeline_class,
                files=scanned.files,
                sha256=scanned.sha256,
                registered_by=actor_user(actor),
                native_width=scanned.native_size[0] if scanned.native_size else None,
                native_height=scanned.native_size[1] if scanned.native_size else None,
            )
            audit_append(
                actor=actor,
                event_type=EventType.BASE_MODEL_REGISTERED,
                subject=base_model,
                details={
                    "name": name,
                    "licence": licence,
                    "declared_provenance": provenance,
                    "directory": base_model.directory,
                    "sha256": base_model.sha256,
                    "files": len(scanned.files),
                    "native_size": list(scanned.native_size) if scanned.native_size else None,
                },
            )
    except IntegrityError:
        raise ApplicationError(f"a base model named {name!r} is already registered", code="duplicate_name", status=409) from None
    return base_model


BASE_MODEL_REVIEW = FourEyes("base model", "registered", required=BASE_MODEL_REQUIRED_APPROVALS)


def _locked_for_review(base_model_id, reviewer: Actor) -> BaseModel:
    base_model = base_model_get(base_model_id=base_model_id)
    base_model = BaseModel.objects.select_for_update().get(pk=base_model.pk)
    BASE_MODEL_REVIEW.check_reviewer(base_model, reviewer=reviewer, creator_id=base_model.registered_by_id)
    return base_model


@transaction.atomic
def base_model_approve(*, base_model_id, reviewer: Actor) -> BaseModel:
    """Record one approval; the second distinct reviewer's approval approves the base model.

    Each approval re-hashes the directory: a reviewer approves the bytes that were registered,
    and never files changed since.
    """
    base_model = _locked_for_review(base_model_id, reviewer)
    completes = BASE_MODEL_REVIEW.approval_completes(base_model, reviewer=reviewer, approvals=base_model_approvals(base_model))
    base_model_check_files(base_model)
    BaseModelReview(base_model=base_model, reviewer=actor_user(reviewer), decision="approve", reason="approved").save()
    audit_append(actor=reviewer, event_type=EventType.BASE_MODEL_REVIEWED, subject=base_model, details={"decision": "approve"})
    if completes:
        base_model = base_model_transition(
            base_model_id=base_model.pk, to=BaseModelStatus.APPROVED, actor=reviewer, reason=BASE_MODEL_REVIEW.approved_reason
        )
    return base_model


@transaction.atomic
def base_model_reject(*, base_model_id, reviewer: Actor, reason: str) -> BaseModel:
    base_model = _locked_for_review(base_model_id, reviewer)
    BASE_MODEL_REVIEW.check_rejection_reason(reason)
    BaseModelReview(base_model=base_model, reviewer=actor_user(reviewer), decision="reject", reason=reason).save()
    audit_append(
        actor=reviewer,
        event_type=EventType.BASE_MODEL_REVIEWED,
        subject=base_model,
        details={"decision": "reject", "reason": reason},
    )
    base_model = base_model_transition(base_model_id=base_model.pk, to=BaseModelStatus.REJECTED, actor=reviewer, reason=reason)
    return base_model


@transaction.atomic
def base_model_revoke(*, base_model_id, actor: Actor, reason: str) -> BaseModel:
    """Withdraw an approved base model: no new run may use it, and no model trained on it may
    generate any more (`model_usable` refuses with `base_model_not_approved`)."""
    if not has_role(actor, Role.REVIEWER, Role.COMPLIANCE):
        raise PermissionDenied(f"{actor_name(actor)} may not revoke base models (reviewer or compliance)")
    if not reason.strip():
        raise ApplicationError("a revocation needs a reason", code="reason_required")
    base_model = base_model_get(base_model_id=base_model_id)
    base_model = base_model_transition(base_model_id=base_model.pk, to=BaseModelStatus.REVOKED, actor=actor, reason=reason)
    return base_model


def base_model_check_files(base_model: BaseModel) -> None:
    """Refuse (code `base_model_changed`) when the directory no longer holds exactly the
    registered files: a changed, missing or added file."""
    changed = changed_files(base_model.directory, base_model.files)
    if changed:
        shown = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
        raise ApplicationError(
            f"base model {base_model.name} ({base_model.pk}) differs from what was approved: {shown}",
            code="base_model_changed",
            status=409,
            extra={"changed_files": changed},
        )
