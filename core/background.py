"""Long work started from a page, run by a worker while the page shows how far it has got.

A page that would otherwise keep a person waiting (a bulk decision over thousands of findings, a
check of the whole audit chain) starts a `BackgroundJob` instead and sends its browser to the
job's page (`/tasks/<id>/`), which shows a progress bar until the job ends, then its result.

Each app registers the kinds of job it offers, from its AppConfig.ready():

    register_background_kind(
        "bulk_decision",
        label="Decide many findings at once",
        runner="auditing.services.bulk_decisions.bulk_decision_run",
        result_template="auditing/bulk_result.html",
    )

The runner, `run(job, progress) -> dict`, does the work, calls `progress(done, total)` as it
goes and returns the result (kept on the job). An ApplicationError it raises is a refusal: the
job fails with its message, which the page shows. Anything else is a fault: the job fails with
a plain sentence and the error goes to the log.

The job is queued → running → succeeded | failed, through one state machine, each move in the
audit log. A worker claims it once (core.state); its heartbeat and the reconciler (core.reconcile)
fail a job whose worker died and send again one whose message was lost.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from core.exceptions import ApplicationError
from core.heartbeat import heartbeat
from core.models import BackgroundJob, BackgroundJobStatus, EventType
from core.reconcile import Reconciler, resend_queued
from core.roles import Actor
from core.state import StateMachine

logger = logging.getLogger(__name__)

Progress = Callable[[int, "int | None"], None]
Runner = Callable[[BackgroundJob, Progress], dict]

BACKGROUND_JOB_TRANSITIONS: dict[str, set[str]] = {
    BackgroundJobStatus.QUEUED: {BackgroundJobStatus.RUNNING, BackgroundJobStatus.FAILED},
    BackgroundJobStatus.RUNNING: {BackgroundJobStatus.SUCCEEDED, BackgroundJobStatus.FAILED},
    BackgroundJobStatus.SUCCEEDED: set(),
    BackgroundJobStatus.FAILED: set(),
}
BACKGROUND_JOB_STATES = StateMachine(
    model=BackgroundJob,
    transitions=BACKGROUND_JOB_TRANSITIONS,
    event_type=EventType.BACKGROUND_JOB_STATUS_CHANGED,
    noun="background job",
)
# A progress bar needs a few updates a second at most; each one is a database write.
PROGRESS_INTERVAL_SECONDS = 0.5
UNEXPECTED = "The work stopped on an unexpected error; nothing after the last step shown was done. Try again, or ask an operator."


@dataclass(frozen=True)
class BackgroundKind:
    kind: str
    label: str
    runner: str
    result_template: str


_KINDS: dict[str, BackgroundKind] = {}


def register_background_kind(kind: str, *, label: str, runner: str, result_template: str) -> None:
    """Offer a kind of job; call it from an AppConfig.ready(). Registering the same kind again
    with other values is a programming error."""
    entry = BackgroundKind(kind, label, runner, result_template)
    if _KINDS.setdefault(kind, entry) != entry:
        raise ValueError(f"background job kind {kind!r} is registered twice, differently")


def background_kind(kind: str) -> BackgroundKind:
    try:
        return _KINDS[kind]
    except KeyError:
        raise ApplicationError(f"no such kind of background job: {kind}", code="unknown_kind") from None


def background_start(*, kind: str, actor: User, params: dict, total: int | None = None) -> BackgroundJob:
    """Queue a job of `kind` with `params` for `actor`; its worker's message goes after commit."""
    background_kind(kind)
    from core.tasks import run_background_job

    task_id = str(uuid.uuid4())
    job = BackgroundJob.objects.create(kind=kind, requested_by=actor, params=params, total=total, task_id=task_id)
    transaction.on_commit(lambda: run_background_job.apply_async((str(job.pk),), task_id=task_id))
    return job


def job_url(job: BackgroundJob) -> str:
    return reverse("background-job", args=[job.pk])


def background_run(job_id: Any, *, task_id: str = "") -> BackgroundJob:
    """The worker's side: claim the queued job once, run it, keep its result or its failure.
    Returns the job as it stands afterwards (not run again if another task holds it or it ended)."""
    job = BACKGROUND_JOB_STATES.claim(
        job_id,
        task_id=task_id,
        claimable=BackgroundJobStatus.QUEUED,
        running=BackgroundJobStatus.RUNNING,
        lost=BackgroundJobStatus.FAILED,
        lost_reason="the worker running this job was lost",
        lost_changes={"finished_at": timezone.now()},
    )
    if job is None:
        return BackgroundJob.objects.get(pk=job_id)
    runner: Runner = import_string(background_kind(job.kind).runner)
    try:
        with heartbeat(BackgroundJob, job.pk, running=BackgroundJobStatus.RUNNING, task_id=task_id):
            result = runner(job, _ProgressWriter(job))
    except ApplicationError as refusal:
        return _finish(job, BackgroundJobStatus.FAILED, reason=refusal.message)
    except Exception:
        logger.exception("background job %s (%s) failed", job.pk, job.kind)
        return _finish(job, BackgroundJobStatus.FAILED, reason=UNEXPECTED)
    return _finish(job, BackgroundJobStatus.SUCCEEDED, result=result)


def _finish(job: BackgroundJob, to: str, *, reason: str = "", result: dict | None = None) -> BackgroundJob:
    changes: dict[str, Any] = {"finished_at": timezone.now(), "result": result}
    done = BackgroundJob.objects.values_list("done", "total").get(pk=job.pk)
    if to == BackgroundJobStatus.SUCCEEDED and done[1] is not None:
        changes["done"] = done[1]  # a finished job's bar is full, whatever the last throttled write said
    return BACKGROUND_JOB_STATES.transition(job.pk, to=to, actor=job.requested_by, reason=reason, **changes)


class _ProgressWriter:
    """progress(done, total): written at most every PROGRESS_INTERVAL_SECONDS (and whenever the
    total changes), by an UPDATE that touches nothing but the counters."""

    def __init__(self, job: BackgroundJob) -> None:
        self.job_id = job.pk
        self.total = job.total
        self.last_write = 0.0

    def __call__(self, done: int, total: int | None = None) -> None:
        now = time.monotonic()
        total_changed = total is not None and total != self.total
        if not total_changed and now - self.last_write < PROGRESS_INTERVAL_SECONDS:
            return
        fields: dict[str, Any] = {"done": max(done, 0), "updated_at": timezone.now()}
        if total_changed:
            fields["total"] = self.total = total
        BackgroundJob.objects.filter(pk=self.job_id, status=BackgroundJobStatus.RUNNING).update(**fields)
        self.last_write = now


def background_job_for(*, job_id: Any, viewer: Actor) -> BackgroundJob | None:
    """The job, to the person who started it; None to anyone else (as if there were none)."""
    if viewer is None or not viewer.is_authenticated:
        return None
    return BackgroundJob.objects.filter(pk=job_id, requested_by_id=viewer.pk).first()


# The reconciler's rules for jobs (see core.reconcile).


def _resend(job_ids: list[str], cutoff: datetime) -> None:
    from core.tasks import run_background_job

    resend_queued(BackgroundJob, run_background_job, BackgroundJobStatus.QUEUED, job_ids)


def _lose(job_id: str, why: str) -> None:
    with suppress(ApplicationError):  # it ended meanwhile: its outcome stands
        BACKGROUND_JOB_STATES.transition(
            job_id,
            to=BackgroundJobStatus.FAILED,
            reason=f"The worker running this job was lost ({why}); start it again.",
            finished_at=timezone.now(),
        )


RECONCILER = Reconciler(
    kind="background",
    model=BackgroundJob,
    queued_status=BackgroundJobStatus.QUEUED,
    queued_since="updated_at",
    queue_deadline=lambda: timedelta(seconds=settings.CLEANROOM_BACKGROUND_QUEUE_DEADLINE_SECONDS),
    resend=_resend,
    running_status=BackgroundJobStatus.RUNNING,
    running_since="status_changed_at",
    running_deadline=lambda: timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT),
    lose=_lose,
)
