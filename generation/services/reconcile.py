"""Generation jobs and verification requests that lost their message or their worker (see
core.reconcile).

Queued past its deadline: sent again under a fresh task id stored on the row (a cancel revokes
the newest message). Both claims make that safe if the original turns up after all: a job's
claim stores the claiming task's id, so the other copy finds the job running under another id
and steps aside; a verification's claim does the same (`core.state.StateMachine.claim`).

Running with a heartbeat that stopped (core.heartbeat), or past the task's hard time limit
(CELERY_TASK_TIME_LIMIT) plus CLEANROOM_RECONCILE_GRACE_SECONDS: the worker is gone (the embedded
broker never hands back the message of a worker that died), so the row fails as `worker_lost`
through its transition service.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta

from django.conf import settings

from core.exceptions import ApplicationError
from core.reconcile import Reconciler, resend_queued
from generation.models import GenerationJob, JobStatus, Verification, VerificationStatus
from generation.services.requests import job_fail

WORKER_LOST = "worker_lost: the worker running this {} was lost ({}); request it again"


def _jobs_resend(job_ids: list[str], cutoff: datetime) -> None:
    from generation.tasks import run_job

    resend_queued(GenerationJob, run_job, JobStatus.QUEUED, job_ids)


def _job_lose(job_id: str, why: str) -> None:
    job_fail(job_id=job_id, error=WORKER_LOST.format("job", why))  # a job that ended meanwhile stays as it is


def _verifications_resend(verification_ids: list[str], cutoff: datetime) -> None:
    from generation.tasks import verify

    resend_queued(Verification, verify, VerificationStatus.QUEUED, verification_ids)


def _verification_lose(verification_id: str, why: str) -> None:
    from generation.services.verification import verification_transition

    with suppress(ApplicationError):  # it finished meanwhile: its answer stands
        verification_transition(
            verification_id=verification_id, to=VerificationStatus.FAILED, error=WORKER_LOST.format("verification", why)
        )


def _task_time_limit() -> timedelta:
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)


JOBS_RECONCILER = Reconciler(
    kind="generation",
    model=GenerationJob,
    queued_status=JobStatus.QUEUED,
    queued_since="updated_at",
    queue_deadline=lambda: timedelta(seconds=settings.CLEANROOM_GENERATION_QUEUE_DEADLINE_SECONDS),
    resend=_jobs_resend,
    running_status=JobStatus.RUNNING,
    running_since="status_changed_at",
    running_deadline=_task_time_limit,
    lose=_job_lose,
)

VERIFICATIONS_RECONCILER = Reconciler(
    kind="verification",
    model=Verification,
    queued_status=VerificationStatus.QUEUED,
    queued_since="updated_at",
    queue_deadline=lambda: timedelta(seconds=settings.CLEANROOM_VERIFY_QUEUE_DEADLINE_SECONDS),
    resend=_verifications_resend,
    running_status=VerificationStatus.RUNNING,
    running_since="updated_at",
    running_deadline=_task_time_limit,
    lose=_verification_lose,
)
