"""A `gpu` worker SIGKILLed mid-training and mid-generation (tiny models on the CPU), on a private
RabbitMQ node: RabbitMQ hands the unacknowledged message (acks_late) to a fresh worker, whose
claim finds the row still running under that very task id. Work that may have killed its worker
must not loop, so the design fails it as `worker_lost` at once (core/state.py, StateMachine.claim),
without waiting for the reconciler: each transition recorded once, no model made, no output released."""

from __future__ import annotations

import time

import pytest

from core.models import EventType
from generation.models import GenerationJob, JobStatus, Output
from generation.services.requests import generation_request
from tests.generation.factories import FAST, SIZE
from tests.generation.slow_watermark import SLOW_WATERMARK
from tests.support.reliability import report, transition_events
from tests.workers import celery_worker, wait_until
from training.models import ModelArtifact, RunStatus, TrainingRun
from training.services import training_request

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
RECOVERY_BOUND_SECONDS = 120


def test_a_worker_killed_mid_training_leaves_a_run_the_redelivered_message_fails_as_worker_lost(
    on_rabbit, cpu_trainable_world, ml_engineer, tmp_path
):
    world = cpu_trainable_world
    env = {"CELERY_BROKER_URL": on_rabbit.url, "CLEANROOM_TRAINING_DEVICE": "cpu"}
    with celery_worker(tmp_path, "gpu", **env) as doomed:
        run = training_request(
            snapshot_id=world.snapshot.pk, base_model_id=world.base_model.pk, steps=20_000, seed=3, actor=ml_engineer
        )
        wait_until(lambda: TrainingRun.objects.get(pk=run.pk).progress > 0, timeout=180, explain=doomed.log)
        doomed.kill()
    killed_at = time.monotonic()
    assert TrainingRun.objects.get(pk=run.pk).status == RunStatus.RUNNING

    with celery_worker(tmp_path, "gpu", **env) as fresh:
        wait_until(lambda: TrainingRun.objects.get(pk=run.pk).status != RunStatus.RUNNING, timeout=RECOVERY_BOUND_SECONDS,
                   explain=fresh.log)  # fmt: skip
    took = time.monotonic() - killed_at

    run.refresh_from_db()
    counted = transition_events(EventType.TRAINING_STATUS_CHANGED, str(run.pk))
    print(f"training run final ({run.status}) {took:.1f} s after its worker was killed; {counted.summary()}")
    report("worker_killed_mid_training", recovery_seconds=took, bound=RECOVERY_BOUND_SECONDS, counted=counted)
    assert (run.status, run.error_code) == (RunStatus.FAILED, "worker_lost")
    assert (counted.lost, counted.duplicated, counted.chain_valid) == (0, 0, True)
    assert not ModelArtifact.objects.filter(training_run=run).exists()


def test_a_worker_killed_mid_generation_leaves_a_job_the_redelivered_message_fails_as_worker_lost(
    on_rabbit, cpu_model_world, product, tmp_path
):
    marker = tmp_path / "lingering"
    env = {"CELERY_BROKER_URL": on_rabbit.url, "CLEANROOM_GENERATION_DEVICE": "cpu",
           "CLEANROOM_WATERMARK_BACKEND": SLOW_WATERMARK, "CLEANROOM_TEST_SLOW_MARKER": str(marker)}  # fmt: skip
    parameters = {"prompt": "a lighthouse at dusk", "width": SIZE, "height": SIZE, **FAST}
    with celery_worker(tmp_path, "gpu", **env, CLEANROOM_TEST_SLOW_SECONDS="600") as doomed:
        job = generation_request(
            model_id=cpu_model_world.model.pk, kind="text_to_image", parameters=parameters, seed=9, actor=product
        )
        wait_until(lambda: marker.exists() and any(marker.iterdir()), timeout=300, explain=doomed.log)
        doomed.kill()
    killed_at = time.monotonic()
    assert GenerationJob.objects.get(pk=job.pk).status == JobStatus.RUNNING

    with celery_worker(tmp_path, "gpu", **env, CLEANROOM_TEST_SLOW_SECONDS="0") as fresh:
        wait_until(lambda: GenerationJob.objects.get(pk=job.pk).status != JobStatus.RUNNING, timeout=RECOVERY_BOUND_SECONDS,
                   explain=fresh.log)  # fmt: skip
    took = time.monotonic() - killed_at

    job.refresh_from_db()
    counted = transition_events(EventType.GENERATION_STATUS_CHANGED, str(job.pk))
    print(f"generation job final ({job.status}) {took:.1f} s after its worker was killed; {counted.summary()}")
    report("worker_killed_mid_generation", recovery_seconds=took, bound=RECOVERY_BOUND_SECONDS, counted=counted)
    assert job.status == JobStatus.FAILED and job.error.startswith("worker_lost"), job.error
    assert (counted.lost, counted.duplicated, counted.chain_valid) == (0, 0, True)
    # The output row holding its watermark serial is made before the watermark stage (a serial is
    # never handed out twice) and stays, never released: no pixels, no blob, no second row.
    assert list(Output.objects.filter(job=job).values_list("released", "sha256")) in ([], [(False, "")])
