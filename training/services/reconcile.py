"""Training runs that lost their message or their worker (see core.reconcile).

A run `queued` past CLEANROOM_TRAINING_QUEUE_DEADLINE_SECONDS is sent again under a fresh task
id, stored on the run (a cancel revokes the newest message). The copy is marked `resent` and
runs only while the run is still queued under that id: the claim treats a second delivery of a
running run's own task id as its worker's death, so a copy arriving after a late original must
step aside, never claim. A run `running` whose heartbeat stopped (core.heartbeat), or past the
training task's hard time limit plus CLEANROOM_RECONCILE_GRACE_SECONDS, lost its worker: it
fails as `worker_lost`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings

from core.exceptions import ApplicationError
from core.reconcile import Reconciler, resend_queued
from training.models import RunStatus, TrainingRun
from training.selectors import training_run_get
from training.services.execution import training_execute
from training.services.requests import training_run_transition

logger = logging.getLogger(__name__)


def _resend(run_ids: list[str], cutoff: datetime) -> None:
    from training.tasks import train

    resend_queued(TrainingRun, train, RunStatus.QUEUED, run_ids, resent=True)


def _lose(run_id: str, why: str) -> None:
    try:
        training_run_transition(
            run_id=run_id,
            to=RunStatus.FAILED,
            reason=f"the worker running this training was lost ({why}); request it again",
            code="worker_lost",
        )
    except ApplicationError:
        logger.info("training run %s ended before the reconciler could fail it", run_id)


def training_execute_resent(*, run_id, task_id: str) -> TrainingRun:
    """Run a message the reconciler sent again, only while the run is still queued under this
    very task id; otherwise (a late original claimed it, a newer copy replaced this one, it was
    cancelled) report the run as it is."""
    run = training_run_get(run_id=run_id)
    if run.status != RunStatus.QUEUED or run.task_id != task_id:
        return run
    return training_execute(run_id=run_id, task_id=task_id)


RECONCILER = Reconciler(
    kind="training",
    model=TrainingRun,
    queued_status=RunStatus.QUEUED,
    queued_since="updated_at",
    queue_deadline=lambda: timedelta(seconds=settings.CLEANROOM_TRAINING_QUEUE_DEADLINE_SECONDS),
    resend=_resend,
    running_status=RunStatus.RUNNING,
    running_since="status_changed_at",
    running_deadline=lambda: timedelta(seconds=settings.CLEANROOM_TRAINING["TIME_LIMIT"]),
    lose=_lose,
)
