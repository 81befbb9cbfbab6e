"""The asset state machine and reviewers' decisions on assets."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from core.audit import AuditEntry, actor_name, audit_append, audit_append_many, model_name
from core.exceptions import ApplicationError, PermissionDenied
from core.models import EventType
from core.roles import Actor, Role, has_role
from core.state import StateMachine
from provenance.models import ASSET_TRANSITIONS, Asset, AssetStatus, Decision, ReviewDecision
from provenance.selectors import asset_get

ASSET_STATES = StateMachine(Asset, ASSET_TRANSITIONS, EventType.ASSET_STATUS_CHANGED, "asset", reason_field=None)


def asset_transition(*, asset_id, to: str, actor: Actor, reason: str = "") -> Asset:
    """Move an asset to `to` if the state machine allows it; the row is locked meanwhile."""
    return ASSET_STATES.transition(asset_id, to=to, actor=actor, reason=reason)


def assets_transition(*, asset_ids: list, to: str, actor: Actor, reason: str = "") -> list[str]:
    """The same state machine for many assets at once (audits queued after a large ingest).
    Assets that may not move are left as they are; the ids that moved are returned."""
    return ASSET_STATES.transition_many(asset_ids, to=to, actor=actor, reason=reason)


# Keyed by the plain value: callers pass the decision as text (the API, the CLI).
_DECISION_TARGET: dict[str, AssetStatus] = {Decision.APPROVE: AssetStatus.APPROVED, Decision.REJECT: AssetStatus.REJECTED}


def _reviewing_user(reviewer: Actor, decision: str, reason: str) -> User:
    """The reviewer, once they may make this decision with this reason (else refused)."""
    if not has_role(reviewer, Role.REVIEWER):
        raise PermissionDenied(f"{actor_name(reviewer)} is not a reviewer")
    if decision not in _DECISION_TARGET:
        raise ApplicationError(f"decision must be one of {', '.join(Decision.values)}", code="invalid_decision")
    if not reason.strip():
        raise ApplicationError("a review decision needs a reason", code="reason_required")
    return reviewer


@transaction.atomic
def asset_review(*, asset_id: str, reviewer: Actor, decision: str, reason: str) -> Asset:
    """A reviewer approves or rejects an asset, with a reason; recorded and audited."""
    user = _reviewing_user(reviewer, decision, reason)
    asset = asset_get(asset_id=asset_id)
    ReviewDecision(reviewer=user, subject_type="asset", asset=asset, decision=decision, reason=reason).save()
    audit_append(
        actor=reviewer,
        event_type=EventType.ASSET_REVIEWED,
        subject=asset,
        details={"decision": decision, "reason": reason},
    )
    return asset_transition(asset_id=asset.pk, to=_DECISION_TARGET[decision], actor=reviewer, reason=reason)


@transaction.atomic
def assets_review(*, asset_ids: list, reviewer: Actor, decision: str, reason: str) -> list[str]:
    """asset_review for many assets with one reason (a bulk decision over findings): each asset
    that may take the decision gets its ReviewDecision and its audit event, then all move at once
    (StateMachine.transition_many). Those that may not move are left as they are, unrecorded;
    the ids that moved are returned."""
    user = _reviewing_user(reviewer, decision, reason)
    target = _DECISION_TARGET[decision]
    rows = Asset.objects.select_for_update().filter(pk__in=asset_ids).order_by("pk").values_list("pk", "status")
    movable = [pk for pk, status in rows if ASSET_STATES.allows(status, target)]
    if not movable:
        return []
    ReviewDecision.objects.bulk_create(
        [ReviewDecision(reviewer=user, subject_type="asset", asset_id=pk, decision=decision, reason=reason) for pk in movable]
    )
    audit_append_many(
        [
            AuditEntry(reviewer, EventType.ASSET_REVIEWED, (model_name(Asset), str(pk)), {"decision": decision, "reason": reason})
            for pk in movable
        ]
    )
    return ASSET_STATES.transition_many(movable, to=target, actor=reviewer, reason=reason)
