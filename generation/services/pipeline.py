"""Running a batch in a `gpu` worker: a two-stage pipeline, so that the GPU is not left waiting
for provenance.

The calling thread claims each job in turn and runs its inference (`job_infer`); one release
thread runs the release stage of the job before it (`job_release`: moderation → withhold, or
watermark → fingerprint → sign → release, exactly a single job's code path). The hand-off
holds at most one finished image: inference of job k+2 does not start until the release thread
took job k+1's image, so memory stays bounded (one image in release, one waiting, one being
made) and a slow release stage slows the batch down instead of piling images up.

Each job is claimed, heartbeated (from its claim to the end of its release) and ended on its
own; a failure or a cancel of one job never stops the others. A job is claimed only when its
turn comes, so a worker killed mid-batch leaves at most two jobs `running` (their heartbeats
stop, and the reconciler fails them as lost) and the rest `queued` (the reconciler sends each
again on its own after CLEANROOM_GENERATION_QUEUE_DEADLINE_SECONDS; a claim is exclusive, so a
job is never run twice). The release thread has its own database connection (Django's are per
thread) and closes it when the batch ends.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection
from PIL import Image

from core.heartbeat import heartbeat
from generation.models import GenerationBatch, GenerationJob, JobStatus
from generation.services.batches import batch_job_task_id
from generation.services.execution import Ended, Stages, guarded, job_infer, job_release
from generation.services.requests import job_claim, job_fail

logger = logging.getLogger(__name__)
SKIPPED = "skipped"
# How often a blocked hand-off looks whether the release thread is still alive.
HANDOFF_POLL_SECONDS = 1.0


@dataclass
class _Inferred:
    """A job whose image is made, on its way to the release thread, with its heartbeat."""

    job: GenerationJob
    image: Image.Image
    stages: Stages
    beat: ExitStack
    ready_at: float


def batch_run(*, batch_id: str, task_id: str = "") -> dict[str, str]:
    """Run the batch's jobs in order (see the module's docstring); returns each job's final
    status by job id, or `skipped` for one that was not this task's to run (cancelled while
    queued, finished, or taken by another worker)."""
    batch = GenerationBatch.objects.get(pk=batch_id)
    claim_base = task_id or batch.task_id
    jobs = list(GenerationJob.objects.filter(batch=batch).order_by("batch_index").values_list("pk", "batch_index"))
    results: dict[str, str] = {}
    handoff: queue.Queue[_Inferred | None] = queue.Queue(maxsize=1)
    releaser = threading.Thread(target=_release_all, args=(handoff, results), name=f"release-{batch_id}", daemon=True)
    releaser.start()
    try:
        for job_id, index in jobs:
            inferred = _infer_one(str(job_id), batch_job_task_id(claim_base, index or 0), results)
            if inferred is not None:
                _hand_off(handoff, inferred, releaser)
    finally:
        # On the way out even after a soft time limit: the image in hand is still released, and
        # the jobs not yet claimed stay queued for the reconciler.
        if releaser.is_alive():
            _hand_off(handoff, None, releaser)
            releaser.join()
    return results


def _infer_one(job_id: str, claim_id: str, results: dict[str, str]) -> _Inferred | None:
    job = job_claim(job_id=job_id, task_id=claim_id)
    if job is None:
        results[job_id] = SKIPPED
        return None
    beat = ExitStack()
    beat.enter_context(heartbeat(GenerationJob, job.pk, running=JobStatus.RUNNING, task_id=claim_id))
    stages = Stages()
    try:
        inferred = guarded(job, stages, lambda: job_infer(job, stages), reraise=(SoftTimeLimitExceeded,))
    except BaseException:
        beat.close()
        raise
    if isinstance(inferred, Ended):
        beat.close()
        results[job_id] = inferred.status
        return None
    return _Inferred(job=job, image=inferred, stages=stages, beat=beat, ready_at=time.perf_counter())


def _hand_off(handoff: queue.Queue[_Inferred | None], item: _Inferred | None, releaser: threading.Thread) -> None:
    # Blocks while an image is already waiting; never forever: a release thread that died
    # would otherwise hang the worker with the batch half done.
    while True:
        try:
            handoff.put(item, timeout=HANDOFF_POLL_SECONDS)
            return
        except queue.Full:
            if not releaser.is_alive():
                if item is not None:
                    item.beat.close()
                raise RuntimeError("the batch's release thread stopped") from None


def _release_all(handoff: queue.Queue[_Inferred | None], results: dict[str, str]) -> None:
    try:
        while (item := handoff.get()) is not None:
            try:
                results[str(item.job.pk)] = _release_one(item)
            finally:
                item.beat.close()
    finally:
        connection.close()  # this thread's own connection: Django's are per thread


def _release_one(item: _Inferred) -> str:
    job, stages = item.job, item.stages
    stages.ms["release_wait"] = round((time.perf_counter() - item.ready_at) * 1000)
    try:
        released = guarded(job, stages, lambda: job_release(job, item.image, stages))
    except Exception as exc:
        # `guarded` could not even record the failure (the database was out of reach): try once
        # more, and leave the rest to the reconciler (the job's heartbeat stops with this item).
        logger.exception("generation job %s: its release failed and could not be recorded", job.pk)
        try:
            job_fail(job_id=job.pk, error=f"{type(exc).__name__}: {exc}", stage_ms=stages.ms)
        except Exception:
            logger.exception("generation job %s: recording its failure failed again", job.pk)
            connection.close()
        return JobStatus.FAILED
    return released.status if isinstance(released, Ended) else released
