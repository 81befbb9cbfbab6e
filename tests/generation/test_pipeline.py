"""A batch run by the `gpu` worker's pipeline (generation/services/pipeline.py): inference of one
job on the calling thread while a real release thread releases the one before, through the
same services as a single job. Transactional: the release thread has its own connection, so it
must see committed rows."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from core.audit import audit_events, auditlog_verify
from core.models import EventType
from generation.models import GenerationBatch, GenerationJob, JobStatus, Output
from generation.output_index import output_index_search
from generation.selectors import output_file
from generation.services.batches import batch_job_task_id, generation_batch_request
from generation.services.inference import generate, pipelines_for
from generation.services.pipeline import batch_run
from generation.services.requests import generation_cancel, job_claim
from provenance.c2pa.manifests import read_manifest
from tests.generation.factories import FAST, SIZE, requested_job

pytestmark = pytest.mark.slow
SHARED = {"width": SIZE, "height": SIZE, **FAST}


def batch_of(world, actor, prompts: list[str], seed: int = 7) -> GenerationBatch:
    return generation_batch_request(model_id=world.model.pk, prompts=prompts, parameters=SHARED, seed=seed, actor=actor)


def jobs_of(batch: GenerationBatch) -> list[GenerationJob]:
    return list(GenerationJob.objects.filter(batch=batch).select_related("output").order_by("batch_index"))


def test_a_batch_releases_every_job_in_order_each_with_its_own_signed_output(transactional_db, world, product):
    batch = batch_of(world, product, ["a red apple", "a green pear"])

    results = batch_run(batch_id=str(batch.pk), task_id=batch.task_id)

    jobs = jobs_of(batch)
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * 2, [j.error for j in jobs]
    assert results == {str(j.pk): JobStatus.SUCCEEDED for j in jobs}
    released = [e.subject_id for e in audit_events(event_type=EventType.OUTPUT_RELEASED)]
    assert released == [str(j.output.pk) for j in jobs]  # in the batch's order
    pipelines = pipelines_for(world.model, "cpu")
    for job in jobs:
        assert set(job.stage_ms) == {"load", "inference", "release_wait", "moderation", "watermark", "fingerprint", "sign"}
        assert job.task_id == batch_job_task_id(batch.task_id, job.batch_index) and job.heartbeat_at is not None
        assert read_manifest(output_file(job.output), "image/png").trusted
        # Its own prompt and seed made it: the same generation finds this output, no other.
        assert [key for key, _ in output_index_search(generate(job, pipelines))] == [str(job.output.pk)]
    assert auditlog_verify().valid


def test_a_job_cancelled_mid_batch_releases_nothing_while_the_others_finish(transactional_db, world, product):
    batch = batch_of(world, product, ["a kite", "a boat", "a tree"])
    second = jobs_of(batch)[1]

    def work() -> None:
        try:
            batch_run(batch_id=str(batch.pk), task_id=batch.task_id)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    deadline = time.monotonic() + 120
    while GenerationJob.objects.get(pk=second.pk).status == JobStatus.QUEUED:
        assert time.monotonic() < deadline and worker.is_alive(), "the second job never started"
        time.sleep(0.02)
    generation_cancel(job_id=second.pk, actor=product)
    worker.join(timeout=300)

    assert not worker.is_alive()
    assert [j.status for j in jobs_of(batch)] == [JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.SUCCEEDED]
    assert not Output.objects.filter(job=second, released=True).exists()
    assert Output.objects.filter(released=True).count() == 2


def test_a_failed_job_and_a_withheld_job_mid_batch_leave_the_others_released(transactional_db, world, product, settings):
    # The policy counts faces; the inpainted astronaut keeps hers (NudeNet really sees it), the
    # tiny model's text-to-image noise has none. The inpainting job is put in the batch's middle.
    settings.CLEANROOM_NSFW = {"BACKEND": "nudenet", "LABELS": ["FACE_FEMALE", "FACE_MALE"], "THRESHOLD": 0.5}
    batch = batch_of(world, product, ["a kite", "a boat", "a tree"])
    first, broken, last = jobs_of(batch)
    flagged = requested_job(world.model, product, kind="inpaint", seed=9)
    GenerationJob.objects.filter(pk=last.pk).update(batch_index=3, task_id=batch_job_task_id(batch.task_id, 3))
    GenerationJob.objects.filter(pk=flagged.pk).update(batch=batch, batch_index=2, task_id=batch_job_task_id(batch.task_id, 2))
    # A row the pipeline cannot run (diffusers refuses a width that is not a multiple of 8).
    GenerationJob.objects.filter(pk=broken.pk).update(parameters={**broken.parameters, "width": 100})

    batch_run(batch_id=str(batch.pk), task_id=batch.task_id)

    jobs = jobs_of(batch)
    assert [j.pk for j in jobs] == [first.pk, broken.pk, flagged.pk, last.pk]
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.WITHHELD, JobStatus.SUCCEEDED]
    assert jobs[1].error.startswith("ValueError") and "moderation" not in jobs[1].stage_ms
    assert "FACE_FEMALE" in jobs[2].status_reason and not jobs[2].output.released and jobs[2].output.sha256 == ""
    assert [j.output.released for j in (jobs[0], jobs[3])] == [True, True]
    assert [e.subject_id for e in audit_events(event_type=EventType.OUTPUT_WITHHELD)] == [str(jobs[2].output.pk)]


def test_a_batch_delivered_again_after_its_worker_died_fails_the_lost_job_and_runs_the_rest(transactional_db, world, product):
    batch = batch_of(world, product, ["a kite", "a boat"])
    lost, rest = jobs_of(batch)
    # The first delivery claimed job 0, then its worker died.
    assert job_claim(job_id=lost.pk, task_id=batch_job_task_id(batch.task_id, 0)) is not None

    results = batch_run(batch_id=str(batch.pk), task_id=batch.task_id)

    lost.refresh_from_db()
    assert lost.status == JobStatus.FAILED and lost.error.startswith("worker_lost")
    assert results == {str(lost.pk): "skipped", str(rest.pk): JobStatus.SUCCEEDED}
