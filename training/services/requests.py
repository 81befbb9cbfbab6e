"""Training runs: the state machine, requests (every rule checked before a run exists; a
refusal is on the record) and cancellation. Execution is in `execution`."""

from __future__ import annotations

import logging
import secrets
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import audit_append
from core.exceptions import ApplicationError
from core.models import EventType
from core.roles import Actor, Role, actor_user, require_role
from core.state import WORKER_LOST, StateMachine
from provenance.selectors import snapshot_get
from training.models import RUN_FINAL, RUN_TRANSITIONS, RunStatus, TrainingRun
from training.selectors import base_model_get, training_run_get
from training.services.rules import check_trainable

logger = logging.getLogger(__name__)


# -- the state machine ---------------------------------------------------------------------------
RUN_STATES = StateMachine(TrainingRun, RUN_TRANSITIONS, EventType.TRAINING_STATUS_CHANGED, "training run", reason_field=None)


def training_run_transition(*, run_id, to: str, actor: Actor = None, reason: str = "", code: str = "") -> TrainingRun:
    """Move a run along RUN_TRANSITIONS; a run that ends records when, and a failed or cancelled
    one why (`error`, `error_code`)."""
    details = {"code": code} if code else None
    return RUN_STATES.transition(run_id, to=to, actor=actor, reason=reason, details=details, **_run_fields(to, reason, code))


def _run_fields(to: str, reason: str, code: str) -> dict:
    now = timezone.now()
    changes: dict = {}
    if to == RunStatus.RUNNING:
        changes["started_at"] = now
    if to in RUN_FINAL:
        changes["finished_at"] = now
    if to in (RunStatus.FAILED, RunStatus.CANCELLED):
        changes.update(error=reason, error_code=code)
    return changes


def training_run_claim(*, run_id, task_id: str) -> TrainingRun | None:
    """queued → running, exactly once; a run this very task already claimed fails as lost
    (`worker_lost`, see `StateMachine.claim`)."""
    lost_reason = "the worker running this training was lost; request it again"
    return RUN_STATES.claim(
        run_id,
        task_id=task_id,
        claimable=RunStatus.QUEUED,
        running=RunStatus.RUNNING,
        lost=RunStatus.FAILED,
        lost_reason=lost_reason,
        claimed_changes={"started_at": timezone.now()},
        lost_changes={"finished_at": timezone.now(), "error": lost_reason, "error_code": WORKER_LOST},
    )


def record_refusal(
    refusal: ApplicationError, *, snapshot_id, base_model_id, actor: Actor, run: TrainingRun | None = None
) -> None:
    # Its own transaction: the refusal is on the record even though the request fails.
    with transaction.atomic():
        audit_append(
            actor=actor,
            event_type=EventType.TRAINING_REFUSED,
            subject=run if run is not None else ("snapshot", str(snapshot_id)),
            details={
                "code": refusal.code,
                "reason": refusal.message,
                "snapshot_id": str(snapshot_id),
                "base_model_id": str(base_model_id),
            },
        )


# -- request -------------------------------------------------------------------------------------
def _run_config(*, steps: int | None, options: dict | None) -> tuple[int, dict]:
    limits = settings.CLEANROOM_TRAINING
    steps = int(steps if steps is not None else limits["DEFAULT_STEPS"])
    if not 1 <= steps <= limits["MAX_STEPS"]:
        raise ApplicationError(f"steps must be between 1 and {limits['MAX_STEPS']}", code="invalid_steps")
    config = {"rank": 4, "learning_rate": 1e-4, "batch_size": 1, "resolution": None, "mixed_precision": "no"}
    unknown = set(options or {}) - set(config)
    if unknown:
        raise ApplicationError(f"unknown training option(s): {', '.join(sorted(unknown))}", code="invalid_option")
    config.update(options or {})
    checks = {
        "rank": lambda v: isinstance(v, int) and 1 <= v <= 256,
        "learning_rate": lambda v: isinstance(v, (int, float)) and 0 < v < 1,
        "batch_size": lambda v: isinstance(v, int) and 1 <= v <= 64,
        "resolution": lambda v: v is None or (isinstance(v, int) and 8 <= v <= 2048 and v % 8 == 0),
        "mixed_precision": lambda v: v in ("no", "fp16", "bf16"),
    }
    bad = [name for name, ok in checks.items() if not ok(config[name])]
    if bad:
        raise ApplicationError(f"invalid training option(s): {', '.join(bad)}", code="invalid_option")
    return steps, config


def training_request(
    *,
    snapshot_id,
    base_model_id,
    steps: int | None = None,
    seed: int | None = None,
    options: dict | None = None,
    actor: Actor = None,
) -> TrainingRun:
    """Check every rule, then create a queued run and enqueue it on the `gpu` queue.

    A refusal (snapshot not approved or tainted, base model not approved or changed on disk, a
    consent lapsed, an image blob missing or different from the frozen list) raises
    ApplicationError after writing a TRAINING_REFUSED event; no run is created.
    """
    require_role(actor, Role.ML_ENGINEER, Role.OPERATOR, action="train models")
    snapshot = snapshot_get(snapshot_id=str(snapshot_id))
    base_model = base_model_get(base_model_id=base_model_id)
    steps, config = _run_config(steps=steps, options=options)
    if seed is not None and not 0 <= int(seed) < 2**63:
        raise ApplicationError("seed must be between 0 and 2^63 - 1", code="invalid_seed")
    try:
        check_trainable(snapshot, base_model)
    except ApplicationError as refusal:
        record_refusal(refusal, snapshot_id=snapshot.pk, base_model_id=base_model.pk, actor=actor)
        raise
    with transaction.atomic():
        run = TrainingRun.objects.create(
            snapshot=snapshot,
            base_model=base_model,
            requested_by=actor_user(actor),
            steps=steps,
            seed=int(seed) if seed is not None else secrets.randbelow(2**31),
            config=config,
            # The task id is chosen now, so the row names its message before the message exists
            # and a cancel can always revoke it.
            task_id=str(uuid.uuid4()),
        )
        audit_append(
            actor=actor,
            event_type=EventType.TRAINING_REQUESTED,
            subject=run,
            details={
                "snapshot_id": str(snapshot.pk),
                "merkle_root": snapshot.merkle_root,
                "base_model_id": str(base_model.pk),
                "base_model_sha256": base_model.sha256,
                "steps": steps,
                "seed": run.seed,
                "config": config,
            },
        )
        transaction.on_commit(lambda: _enqueue(run))
    return run


def _enqueue(run: TrainingRun) -> None:
    from training.tasks import train

    train.apply_async((str(run.pk),), task_id=run.task_id)


# -- cancel --------------------------------------------------------------------------------------
def training_cancel(*, run_id, actor: Actor = None, reason: str = "cancelled") -> TrainingRun:
    """Cancel a queued or running run. A queued message is revoked; a running loop notices at
    its next progress write (within PROGRESS_INTERVAL_S) and stops without making a model."""
    require_role(actor, Role.ML_ENGINEER, Role.OPERATOR, action="cancel training runs")
    run = training_run_get(run_id=run_id)
    with transaction.atomic():
        run = training_run_transition(run_id=run.pk, to=RunStatus.CANCELLED, actor=actor, reason=reason, code="cancelled")
        task_id = run.task_id
        transaction.on_commit(lambda: _revoke(task_id))
    return run


def _revoke(task_id: str) -> None:
    if not task_id:
        return
    from training.tasks import train

    try:
        train.app.control.revoke(task_id)
    except Exception:  # the run is cancelled in the database either way; the worker checks it
        logger.warning("could not revoke training task %s", task_id, exc_info=True)


# -- execute -------------------------------------------------------------------------------------
