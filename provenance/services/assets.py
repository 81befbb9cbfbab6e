"""The asset state machine and reviewers' decisions on assets."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.audit import AuditEntry, actor_name, audit_append, audit_append_many
from core.exceptions import ApplicationError, PermissionDenied
from core.models import EventType
from core.roles import Role, has_role
from provenance.models import ASSET_TRANSITIONS, Asset, AssetStatus, Decision, ReviewDecision
from provenance.selectors import asset_get


@transaction.atomic
def asset_transition(*, asset_id, to: str, actor, reason: str = "") -> Asset:
    """Move an asset to `to` if the state machine allows it; the row is locked meanwhile."""
    asset = Asset.objects.select_for_update().get(pk=asset_id)
    if to not in ASSET_TRANSITIONS[asset.status]:
        raise ApplicationError(f"asset {asset.pk} cannot go from {asset.status} to {to}", code="illegal_transition", status=409)
    previous = asset.status
    asset.status = to
    asset.status_changed_at = timezone.now()
    asset.save(update_fields=["status", "status_changed_at", "updated_at"])
    audit_append(
        actor=actor,
        event_type=EventType.ASSET_STATUS_CHANGED,
        subject=asset,
        details={"from": previous, "to": to, "reason": reason},
    )
    return asset


@transaction.atomic
def assets_transition(*, asset_ids: list, to: str, actor, reason: str = "") -> list[str]:
    """The same state machine for many assets at once (audits queued after a large ingest):
    rows locked, each move checked, one update and one audit event per asset. Assets that may
    not move are left as they are; the ids that moved are returned."""
    rows = list(Asset.objects.select_for_update().filter(pk__in=asset_ids).values_list("pk", "status"))
    moving = [(pk, status) for pk, status in rows if to in ASSET_TRANSITIONS[status]]
    if not moving:
        return []
    Asset.objects.filter(pk__in=[pk for pk, _ in moving]).update(
        status=to, status_changed_at=timezone.now(), updated_at=timezone.now()
    )
    audit_append_many(
        [
            AuditEntry(
                actor=actor,
                event_type=EventType.ASSET_STATUS_CHANGED,
                subject=("asset", str(pk)),
                details={"from": status, "to": to, "reason": reason},
            )
            for pk, status in moving
        ]
    )
    return [str(pk) for pk, _ in moving]


_DECISION_TARGET = {Decision.APPROVE: AssetStatus.APPROVED, Decision.REJECT: AssetStatus.REJECTED}


@transaction.atomic
def asset_review(*, asset_id: str, reviewer, decision: str, reason: str) -> Asset:
    """A reviewer approves or rejects an asset, with a reason; recorded and audited."""
    if not has_role(reviewer, Role.REVIEWER):
        raise PermissionDenied(f"{actor_name(reviewer)} is not a reviewer")
    if decision not in _DECISION_TARGET:
        raise ApplicationError(f"decision must be one of {', '.join(Decision.values)}", code="invalid_decision")
    if not reason.strip():
        raise ApplicationError("a review decision needs a reason", code="reason_required")
    asset = asset_get(asset_id=asset_id)
    ReviewDecision(reviewer=reviewer, subject_type="asset", asset=asset, decision=decision, reason=reason).save()
    audit_append(
        actor=reviewer,
        event_type=EventType.ASSET_REVIEWED,
        subject=asset,
        details={"decision": decision, "reason": reason},
    )
    return asset_transition(asset_id=asset.pk, to=_DECISION_TARGET[decision], actor=reviewer, reason=reason)
