"""Reads: jobs as their requester (or an operator, or compliance) may see them, and outputs by
id, by watermark id and by file, for downloads and for the soft-binding resolution service."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch

from core.exceptions import ApplicationError, NotFound
from core.roles import Actor
from core.storage import blob_open
from generation.models import GenerationBatch, GenerationJob, Output


def _uuid(value, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"no {what.replace('_', ' ')} with id {value!r}", code=f"unknown_{what}") from None


def job_get(*, job_id, user: Actor = None, anyone: bool = False) -> GenerationJob:
    """A job `user` may see (the requester, operators, compliance), or NotFound as if absent.
    `anyone=True` is the operator at the command line."""
    jobs = GenerationJob.objects.all() if anyone else GenerationJob.objects.visible_to(user)
    job = jobs.select_related("model", "output", "requester").filter(pk=_uuid(job_id, "job")).first()
    if job is None:
        raise NotFound(f"no generation job with id {job_id!r}", code="unknown_job")
    return job


def batch_get(*, batch_id, user: Actor = None, anyone: bool = False) -> GenerationBatch:
    """A batch `user` may see (the same rule as its jobs'), with its jobs and their outputs, or
    NotFound as if absent."""
    batches = GenerationBatch.objects.all() if anyone else GenerationBatch.objects.visible_to(user)
    jobs = GenerationJob.objects.select_related("requester", "output").order_by("batch_index")
    batch = (
        batches.select_related("requester")
        .prefetch_related(Prefetch("jobs", queryset=jobs))
        .filter(pk=_uuid(batch_id, "batch"))
        .first()
    )
    if batch is None:
        raise NotFound(f"no generation batch with id {batch_id!r}", code="unknown_batch")
    return batch


def job_output(job: GenerationJob) -> Output | None:
    try:
        return job.output
    except Output.DoesNotExist:
        return None


def output_get(*, output_id, user: Actor = None, anyone: bool = False) -> Output:
    """An output by id, if its job is visible to `user` (`anyone=True`: no restriction)."""
    outputs = Output.objects.all() if anyone else Output.objects.filter(job__in=GenerationJob.objects.visible_to(user))
    output = outputs.select_related("job").filter(pk=_uuid(output_id, "output")).first()
    if output is None:
        raise NotFound(f"no output with id {output_id!r}", code="unknown_output")
    return output


def output_by_watermark_id(watermark_id: int) -> Output | None:
    """The released output whose embedded watermark carries `watermark_id`, if any."""
    return Output.objects.select_related("job").filter(watermark_id=watermark_id, watermark_embedded=True, released=True).first()


def output_by_sha256(sha256: str) -> Output | None:
    """The released output whose signed file has these bytes (an untouched copy)."""
    return Output.objects.select_related("job").filter(sha256=sha256, released=True).first()


def output_file(output: Output) -> bytes:
    """The released output's signed PNG; a withheld or unfinished output has none to give."""
    if not output.released:
        if output.withheld_reason:
            raise ApplicationError(
                f"output {output.pk} was withheld: {output.withheld_reason}", code="output_withheld", status=409
            )
        raise ApplicationError(f"output {output.pk} has not been released", code="output_not_released", status=409)
    with blob_open(output.sha256) as handle:
        return handle.read()
