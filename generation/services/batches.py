"""Batch requests: one request with many prompts becomes one job per prompt, grouped in a batch
and run in order by one `gpu` task (generation/services/pipeline.py).

Each job is requested exactly as a single one is (the same checks, the same GENERATION_REQUESTED
event, its own state, output and cancel); the batch is all or nothing at request time: one
refused prompt refuses the whole batch, names the prompt, and leaves no job behind.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction

from core.exceptions import ApplicationError
from core.roles import Actor, Role, actor_user, require_role
from generation.models import GenerationBatch, GenerationJob, JobKind
from generation.services.requests import generation_refusal_record, job_requested_record
from generation.services.rules import CheckedRequest, check_request
from training.selectors import model_get
from training.services import model_usable


def batch_job_task_id(batch_task_id: str, index: int) -> str:
    """The id under which the batch task claims its job `index`: its own per job, so that a
    cancel (which revokes the job's task id) never revokes the batch's message, and a batch
    message delivered again finds its own running job as lost (core.state's claim)."""
    return f"{batch_task_id}:{index}"


def generation_batch_request(
    *,
    model_id: Any,
    prompts: list[str],
    parameters: dict[str, Any],
    seed: int | None = None,
    actor: Actor = None,
) -> GenerationBatch:
    """Queue one text-to-image job per prompt as one batch, run by one `gpu` task; or refuse.

    `parameters` (all but the prompt) are shared by every job. With `seed` s, job k gets s + k;
    without, each job gets a random seed of its own. Refused like a single request (role,
    model, parameters), and also for an empty batch or one of more than
    CLEANROOM_GENERATION_MAX_BATCH prompts; a refused prompt's message starts with
    `prompt K` (0-based) and `extra` carries `prompt_index`. A refusal appends one
    GENERATION_REFUSED event and leaves nothing behind.
    """
    kind = JobKind.TEXT_TO_IMAGE
    try:
        require_role(actor, Role.PRODUCT, action="generate images")
        limit = settings.CLEANROOM_GENERATION_MAX_BATCH
        if not 1 <= len(prompts) <= limit:
            raise ApplicationError(f"a batch holds 1 to {limit} prompts, not {len(prompts)}", code="invalid_batch")
        artifact = model_get(model_id=model_id)
        model_usable(artifact)
        checked = [
            _check_prompt(index, prompt, parameters, seed, artifact.base_model.native_size)
            for index, prompt in enumerate(prompts)
        ]
    except ApplicationError as error:
        generation_refusal_record(error=error, actor=actor, model_id=model_id, kind=kind)
        raise
    with transaction.atomic():
        batch = GenerationBatch.objects.create(requester=actor_user(actor), model=artifact, kind=kind, task_id=str(uuid.uuid4()))
        for index, request in enumerate(checked):
            job = GenerationJob.objects.create(
                requester=batch.requester,
                model=artifact,
                kind=request.kind,
                parameters=request.parameters,
                warnings=request.warnings,
                seed=request.seed,
                batch=batch,
                batch_index=index,
                task_id=batch_job_task_id(batch.task_id, index),
            )
            job_requested_record(job=job, actor=actor, batch_id=str(batch.pk), batch_index=index)
        transaction.on_commit(lambda: _enqueue(batch))
    return batch


def _check_prompt(
    index: int, prompt: str, parameters: dict[str, Any], seed: int | None, native_size: tuple[int, int] | None
) -> CheckedRequest:
    try:
        return check_request(
            kind=JobKind.TEXT_TO_IMAGE,
            parameters={**parameters, "prompt": prompt},
            seed=None if seed is None else seed + index,
            native_size=native_size,
        )
    except ApplicationError as error:
        raise ApplicationError(
            f"prompt {index}: {error.message}", code=error.code, status=error.status, extra={**error.extra, "prompt_index": index}
        ) from error


def _enqueue(batch: GenerationBatch) -> None:
    from generation.tasks import run_batch

    run_batch.apply_async((str(batch.pk),), task_id=batch.task_id)
