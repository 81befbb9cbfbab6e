"""Generation jobs: requesting one (with every refusal recorded), its state machine, claiming it
in a worker, cancelling it."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.audit import actor_name, audit_append
from core.exceptions import ApplicationError, PermissionDenied
from core.models import EventType
from core.roles import Actor, Role, actor_user, has_role, require_role
from core.state import StateMachine
from core.storage import blob_put_bytes
from generation.models import JOB_FINAL, JOB_TRANSITIONS, GenerationJob, JobStatus
from generation.services.rules import check_request
from training.selectors import model_get
from training.services import model_usable

logger = logging.getLogger(__name__)


JOB_STATES = StateMachine(GenerationJob, JOB_TRANSITIONS, EventType.GENERATION_STATUS_CHANGED, "generation job")


def job_transition(*, job_id, to: str, actor: Actor = None, reason: str = "", **changes: Any) -> GenerationJob:
    """Move a job along JOB_TRANSITIONS (row locked), setting `changes` on it, with an audit event."""
    return JOB_STATES.transition(job_id, to=to, actor=actor, reason=reason, **changes)


def generation_refusal_record(
    *, error: ApplicationError, actor: Actor = None, model_id: Any = "", kind: Any = "", job=None
) -> None:
    """Append GENERATION_REFUSED in a transaction of its own, so the refusal stays on the record
    although the request (or the job) fails. Its subject is the job when one exists (a refusal
    at run time), else the model asked for."""
    subject = job if job is not None else ("modelartifact", str(model_id)[:64])
    with transaction.atomic():
        audit_append(
            actor=actor,
            event_type=EventType.GENERATION_REFUSED,
            subject=subject,
            details={"code": error.code, "reason": error.message, "model_id": str(model_id)[:64], "kind": str(kind)[:32]},
        )


def generation_request(
    *,
    model_id: Any,
    kind: str,
    parameters: dict[str, Any],
    seed: int | None = None,
    image: bytes | None = None,
    mask: bytes | None = None,
    actor: Actor = None,
) -> GenerationJob:
    """Queue a generation job on the `gpu` queue, or refuse (ApplicationError) and record why.

    Refused: a caller without the product role (`actor=None` is the operator at the command
    line), an unknown model, a model that may no longer generate (`model_usable`: its snapshot
    tainted or not approved, its base model not approved), and bad parameters (`check_request`).
    A refusal leaves no job behind and appends a GENERATION_REFUSED event. Text-to-image
    defaults to the model's native size; a size far above it is accepted with a warning, kept
    on the job and in its GENERATION_REQUESTED event.
    """
    try:
        require_role(actor, Role.PRODUCT, action="generate images")
        artifact = model_get(model_id=model_id)
        model_usable(artifact)
        checked = check_request(
            kind=kind,
            parameters=parameters,
            seed=seed,
            image=image,
            mask=mask,
            native_size=artifact.base_model.native_size,
        )
    except ApplicationError as error:
        generation_refusal_record(error=error, actor=actor, model_id=model_id, kind=kind)
        raise
    input_sha256 = blob_put_bytes(checked.image) if checked.image is not None else ""
    mask_sha256 = blob_put_bytes(checked.mask) if checked.mask is not None else ""
    with transaction.atomic():
        job = GenerationJob.objects.create(
            requester=actor_user(actor),
            model=artifact,
            kind=checked.kind,
            parameters=checked.parameters,
            warnings=checked.warnings,
            seed=checked.seed,
            input_sha256=input_sha256,
            mask_sha256=mask_sha256,
            # Chosen here and stored with the job, so the job can be cancelled (revoked) from
            # the moment it exists, before the broker has even seen the message.
            task_id=str(uuid.uuid4()),
        )
        job_requested_record(job=job, actor=actor)
        transaction.on_commit(lambda: _enqueue(job))
    return job


def job_requested_record(*, job: GenerationJob, actor: Actor, **extra: Any) -> None:
    """Append the job's GENERATION_REQUESTED event (inside the transaction that created it):
    what was asked for, with `extra` details (a batch's id and the job's place in it)."""
    audit_append(
        actor=actor,
        event_type=EventType.GENERATION_REQUESTED,
        subject=job,
        details={
            "model_id": str(job.model_id),
            "kind": job.kind,
            "seed": job.seed,
            "parameters": job.parameters,
            "warnings": job.warnings,
            "input_sha256": job.input_sha256,
            "mask_sha256": job.mask_sha256,
            **extra,
        },
    )


def _enqueue(job: GenerationJob) -> None:
    from generation.tasks import run_job

    run_job.apply_async((str(job.pk),), task_id=job.task_id)


def job_claim(*, job_id, task_id: str) -> GenerationJob | None:
    """Take a queued job for this task (queued → running), or None if it is not ours to run;
    a job this very task already claimed fails as lost (see `StateMachine.claim`)."""
    return JOB_STATES.claim(
        job_id,
        task_id=task_id,
        claimable=JobStatus.QUEUED,
        running=JobStatus.RUNNING,
        lost=JobStatus.FAILED,
        lost_reason="the worker running this job was lost; request it again",
        claimed_changes={"started_at": timezone.now()},
        lost_changes={"error": "worker_lost: the worker running this job was lost", "finished_at": timezone.now()},
    )


def job_fail(*, job_id, error: str, stage_ms: dict | None = None) -> GenerationJob | None:
    """Mark a job failed (from queued or running); a job already final stays as it is."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in JOB_FINAL:
            return job
        changes: dict[str, Any] = {"error": error[:10_000], "finished_at": timezone.now()}
        if stage_ms is not None:
            changes["stage_ms"] = stage_ms
        return job_transition(job_id=job.pk, to=JobStatus.FAILED, reason=error[:500], **changes)


def generation_cancel(*, job_id, actor: Actor = None) -> GenerationJob:
    """Cancel a queued or running job: its requester, an operator, or the CLI (actor None).

    A queued job never starts; a running one stops at its next stage boundary and releases
    nothing (its task is also revoked, so a message not yet taken is dropped by the worker).
    """
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise ApplicationError(f"no generation job {job_id}", code="unknown_job", status=404)
        if actor is not None and not (
            has_role(actor, Role.OPERATOR) or (job.requester_id == actor.pk and has_role(actor, Role.PRODUCT))
        ):
            raise PermissionDenied(f"{actor_name(actor)} may not cancel generation job {job.pk}")
        if job.status in JOB_FINAL:
            raise ApplicationError(f"generation job {job.pk} is already {job.status}", code="job_finished", status=409)
        job = job_transition(
            job_id=job.pk,
            to=JobStatus.CANCELLED,
            actor=actor,
            reason=f"cancelled by {actor_name(actor)}",
            finished_at=timezone.now(),
        )
        task_id = job.task_id
        transaction.on_commit(lambda: _revoke(task_id))
    return job


def _revoke(task_id: str) -> None:
    from config.celery import app

    if task_id:
        app.control.revoke(task_id)
