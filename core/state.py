"""One state machine per model: the allowed moves, the row lock, the audit event, the claim.

Every model with a status (asset, snapshot, base model, training run, generation job) declares
one `StateMachine` beside its allowed-transitions map, and every status write goes through it:

- `transition` locks the row (`select_for_update`), refuses an illegal move with
  `ApplicationError(code="illegal_transition", status=409)`, writes the new status with its
  timestamp (and reason, and any other fields the caller changes with it) and appends the
  audit event in the same transaction.
- `transition_many` does the same for many rows at once (one UPDATE, one event per row).
- `claim` is how a worker takes queued work exactly once (HackSoft's and healthchecks' pattern):
  queued → running for the first message; a message delivered again to the task that already
  claimed the row means that task's worker died (late acknowledgement hands it back where the
  broker redelivers: see CELERY_TASK_ACKS_LATE in the settings), so the row fails as lost instead
  of running again and perhaps killing its next worker too. Where no message comes back, the
  claim's heartbeat tells the reconciler (core.heartbeat).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.audit import AuditEntry, audit_append, audit_append_many, model_name
from core.exceptions import ApplicationError
from core.heartbeat import HEARTBEAT_FIELD, has_heartbeat
from core.models import EventType
from core.roles import Actor

WORKER_LOST = "worker_lost"


@dataclass(frozen=True)
class StateMachine:
    """The status field of `model`, moved only along `transitions`, each move audited as `event_type`.

    `noun` names a row in refusals ("snapshot", "generation job"); `reason_field` and
    `changed_at_field` are the model's fields that keep the latest move's reason and time, if it
    has them. `event_type` None is for a worker's bookkeeping rows (an auditor's run on one
    asset), whose governance events are written by the service that concludes the work.
    """

    # Any model with a `status` field and an `objects` manager, which mypy cannot spell.
    model: type[Any]
    transitions: Mapping[str, set[str]]
    event_type: EventType | None
    noun: str
    reason_field: str | None = "status_reason"
    changed_at_field: str | None = "status_changed_at"
    final: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "final", frozenset(state for state, moves in self.transitions.items() if not moves))

    def allows(self, current: str, to: str) -> bool:
        return to in self.transitions[current]

    def refusal(self, row: Any, to: str) -> ApplicationError:
        return ApplicationError(
            f"{self.noun} {row.pk} is {row.status} and cannot become {to}", code="illegal_transition", status=409
        )

    @transaction.atomic
    def transition(
        self,
        pk: Any,
        *,
        to: str,
        actor: Actor = None,
        reason: str = "",
        details: dict[str, Any] | None = None,
        **changes: Any,
    ) -> Any:
        """Move one row to `to` (locked meanwhile), setting `changes` on it too; audited with
        `{from, to, reason, **details}`. Returns the row as saved."""
        row = self.model.objects.select_for_update().get(pk=pk)
        if not self.allows(row.status, to):
            raise self.refusal(row, to)
        previous = row.status
        row.status = to
        fields = ["status", *self._timestamp_fields()]
        if self.changed_at_field:
            setattr(row, self.changed_at_field, timezone.now())
            fields.append(self.changed_at_field)
        if self.reason_field:
            setattr(row, self.reason_field, reason)
            fields.append(self.reason_field)
        for name, value in changes.items():
            setattr(row, name, value)
            fields.append(name)
        row.save(update_fields=fields)
        if self.event_type is not None:
            audit_append(
                actor=actor,
                event_type=self.event_type,
                subject=row,
                details={"from": previous, "to": to, "reason": reason, **(details or {})},
            )
        return row

    @transaction.atomic
    def transition_many(self, pks: list[Any], *, to: str, actor: Actor = None, reason: str = "", **changes: Any) -> list[str]:
        """Move many rows at once (audits queued after a large ingest), setting `changes` on
        them too: rows locked, each move checked, one UPDATE and one audit event per row. Rows
        that may not move stay as they are; the ids that moved are returned."""
        rows = list(self.model.objects.select_for_update().filter(pk__in=pks).values_list("pk", "status"))
        moving = [(pk, status) for pk, status in rows if self.allows(status, to)]
        if not moving:
            return []
        now = timezone.now()
        update: dict[str, Any] = {"status": to, **dict.fromkeys(self._timestamp_fields(), now), **changes}
        if self.changed_at_field:
            update[self.changed_at_field] = now
        if self.reason_field:
            update[self.reason_field] = reason
        self.model.objects.filter(pk__in=[pk for pk, _ in moving]).update(**update)
        if self.event_type is None:
            return [str(pk) for pk, _ in moving]
        audit_append_many(
            [
                AuditEntry(
                    actor=actor,
                    event_type=self.event_type,
                    subject=(model_name(self.model), str(pk)),
                    details={"from": status, "to": to, "reason": reason},
                )
                for pk, status in moving
            ]
        )
        return [str(pk) for pk, _ in moving]

    def claim(
        self,
        pk: Any,
        *,
        task_id: str,
        claimable: str | Collection[str],
        running: str,
        lost: str | None,
        lost_reason: str = "",
        claimed_changes: dict[str, Any] | None = None,
        lost_changes: dict[str, Any] | None = None,
        task_field: str = "task_id",
    ) -> Any | None:
        """Take a claimable row for this task (→ `running`) and return it, or None when it is not
        this task's to run: gone, held by another task, or final.

        A row that this very task already claimed and that is still running means the message
        was delivered again because its worker died. With `lost` set, the row moves there
        (work that may have killed its worker must not loop); with `lost` None, the task takes
        its row back (work that is safe to repeat, such as an auditor's run).

        A model with a `heartbeat_at` field gets it stamped by the claim: the worker then keeps it
        fresh with `core.heartbeat.heartbeat` while it works."""
        states = {claimable} if isinstance(claimable, str) else set(claimable)
        with transaction.atomic():
            row = self.model.objects.select_for_update().filter(pk=pk).first()
            if row is None:
                return None
            redelivered = row.status == running and bool(task_id) and getattr(row, task_field) == task_id
            if row.status in states or (redelivered and lost is None):
                changes = dict(claimed_changes or {})
                if task_id:
                    changes[task_field] = task_id
                if has_heartbeat(self.model):
                    changes[HEARTBEAT_FIELD] = timezone.now()
                details = {"task_id": task_id} if task_id else None
                return self.transition(row.pk, to=running, reason="claimed by a worker", details=details, **changes)
            if redelivered and lost is not None:
                self.transition(row.pk, to=lost, reason=lost_reason, details={"code": WORKER_LOST}, **(lost_changes or {}))
            return None

    def _timestamp_fields(self) -> list[str]:
        return ["updated_at"] if any(f.name == "updated_at" for f in self.model._meta.concrete_fields) else []
