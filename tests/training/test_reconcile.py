"""Training runs on the shared reconciler (core.reconcile), with a real `gpu` worker on the embedded
broker: a lost message is sent again and trained once; a worker killed mid-training (the embedded
broker never hands its message back) leaves a run that fails as `worker_lost` as soon as its
heartbeat is overdue; a run claimed without a heartbeat still fails once past its time limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from core.models import AuditEvent, EventType
from core.reconcile import reconcile
from tests.workers import celery_worker, lose_messages, queued_messages, reconcile_until, wait_until
from training.models import RunStatus, TrainingRun
from training.services import training_request, training_run_transition
from training.services.requests import training_run_claim

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
QUEUE_DEADLINE = timedelta(seconds=1801)
# The worker beats every second and the reconciler (this process) waits three without a beat.
HEARTBEAT_TIMEOUT = 3
HEARTBEAT = {"CLEANROOM_HEARTBEAT_SECONDS": "1", "CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT)}


def status_events(run: TrainingRun) -> list[dict]:
    events = AuditEvent.objects.filter(event_type=EventType.TRAINING_STATUS_CHANGED, subject_id=str(run.pk))
    return [event.details for event in events.order_by("seq")]


def test_a_run_whose_message_was_lost_is_sent_again_and_trained_by_a_worker(governed, base_model, pki, ml_engineer, tmp_path):
    run = training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=2, seed=3, actor=ml_engineer)
    assert lose_messages("gpu", run.task_id) == 1
    assert reconcile(kinds=["training"]) == {"training": {"resent": [], "lost": []}}  # fresh: left alone
    report = reconcile(kinds=["training"], now=timezone.now() + QUEUE_DEADLINE)
    assert report == {"training": {"resent": [str(run.pk)], "lost": []}}
    resent_as = TrainingRun.objects.get(pk=run.pk).task_id
    assert resent_as != run.task_id and len(queued_messages("gpu", resent_as)) == 1
    with celery_worker(tmp_path, "gpu", CLEANROOM_TRAINING_DEVICE="cpu") as worker:
        wait_until(lambda: TrainingRun.objects.get(pk=run.pk).status in (RunStatus.SUCCEEDED, RunStatus.FAILED), timeout=240,
                   explain=worker.log)  # fmt: skip
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert [e["to"] for e in status_events(run)] == ["running", "succeeded"]
    assert status_events(run)[0]["task_id"] == resent_as


def test_a_resent_copy_steps_aside_when_the_original_turns_up_after_all(governed, base_model, ml_engineer, tmp_path):
    run = training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=2, seed=3, actor=ml_engineer)
    assert reconcile(kinds=["training"], now=timezone.now() + QUEUE_DEADLINE)["training"]["resent"] == [str(run.pk)]
    # The original turns up after all: another worker takes it and is training the run now.
    assert lose_messages("gpu", run.task_id) == 1
    training_run_transition(run_id=run.pk, to=RunStatus.RUNNING, reason="claimed by a worker")
    copy_id = TrainingRun.objects.get(pk=run.pk).task_id
    assert len(queued_messages("gpu", copy_id)) == 1
    with celery_worker(tmp_path, "gpu", CLEANROOM_TRAINING_DEVICE="cpu") as worker:
        wait_until(lambda: f"training.train[{copy_id}] succeeded" in worker.log(), timeout=120, explain=worker.log)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING  # not failed as lost by its own copy
    assert [e["to"] for e in status_events(run)] == ["running"]


def test_a_run_whose_worker_was_killed_fails_as_worker_lost_once_its_heartbeat_stops(
    governed, base_model, pki, ml_engineer, tmp_path, settings
):
    settings.CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS = HEARTBEAT_TIMEOUT
    with celery_worker(tmp_path, "gpu", CLEANROOM_TRAINING_DEVICE="cpu", **HEARTBEAT) as worker:
        run = training_request(
            snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=20_000, seed=3, actor=ml_engineer
        )
        wait_until(lambda: TrainingRun.objects.get(pk=run.pk).progress > 0, timeout=180, explain=worker.log)
        worker.kill()
    assert queued_messages("gpu", run.task_id) == []  # the embedded broker lost the message with its worker
    assert TrainingRun.objects.get(pk=run.pk).status == RunStatus.RUNNING

    took = reconcile_until(lambda: TrainingRun.objects.get(pk=run.pk).status != RunStatus.RUNNING, timeout=60)

    print(f"training run recovered {took:.1f} s after its worker was killed (heartbeat timeout {HEARTBEAT_TIMEOUT} s)")
    run.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "worker_lost")
    assert f"no heartbeat for {HEARTBEAT_TIMEOUT} s" in run.error
    assert status_events(run)[-1] == {"from": "running", "to": "failed", "reason": run.error, "code": "worker_lost"}


def test_a_run_claimed_without_a_heartbeat_still_fails_as_worker_lost_once_past_its_time_limit(governed, base_model, ml_engineer):
    run = training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=2, seed=3, actor=ml_engineer)
    assert training_run_claim(run_id=run.pk, task_id=run.task_id) is not None
    # Claimed by a worker of the previous release, which kept no heartbeat: the deadline decides.
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=None)
    limit = timedelta(seconds=settings.CLEANROOM_TRAINING["TIME_LIMIT"] + settings.CLEANROOM_RECONCILE_GRACE_SECONDS)
    assert reconcile(kinds=["training"], now=timezone.now() + limit - timedelta(seconds=30))["training"]["lost"] == []
    assert reconcile(kinds=["training"], now=timezone.now() + limit)["training"]["lost"] == [str(run.pk)]
    run.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "worker_lost")
    assert "past its time limit" in run.error
