"""Background jobs (core/background.py): queued, claimed once, run with progress, ended with a
result or a reason; lost ones put right by the reconciler."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.audit import audit_events
from core.auditlog_verify import AUDITLOG_VERIFY_KIND
from core.background import background_run, background_start, job_url, register_background_kind
from core.exceptions import ApplicationError
from core.models import BackgroundJob, BackgroundJobStatus, EventType
from core.reconcile import reconcile
from tests.support.background_kinds import BREAK, COUNT, REFUSE, WATCH, register_test_kinds
from tests.workers import celery_worker, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _kinds() -> None:
    register_test_kinds()


def test_a_started_job_is_queued_and_its_message_goes_after_commit(reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as sent:
        job = background_start(kind=COUNT, actor=reviewer, params={"to": 3}, total=3)

    assert job.status == BackgroundJobStatus.QUEUED
    assert len(sent) == 1
    assert job_url(job) == f"/tasks/{job.pk}/"


def test_an_unknown_kind_is_refused(reviewer):
    with pytest.raises(ApplicationError) as refused:
        background_start(kind="no_such_kind", actor=reviewer, params={})

    assert refused.value.code == "unknown_kind"
    assert not BackgroundJob.objects.exists()


def test_a_run_keeps_the_result_fills_the_bar_and_audits_each_move(reviewer):
    job = background_start(kind=COUNT, actor=reviewer, params={"to": 4}, total=4)

    ran = background_run(job.pk, task_id="t-1")

    assert (ran.status, ran.result, ran.done, ran.total) == ("succeeded", {"sum": 10}, 4, 4)
    assert ran.finished_at is not None
    moves = audit_events(subject_type="backgroundjob", subject_id=str(job.pk), event_type=EventType.BACKGROUND_JOB_STATUS_CHANGED)
    assert [(e.details["from"], e.details["to"], e.actor) for e in moves] == [
        ("queued", "running", "system"),
        ("running", "succeeded", reviewer.username),
    ]


def test_a_job_runs_once_even_when_its_message_comes_twice(reviewer):
    job = background_start(kind=COUNT, actor=reviewer, params={"to": 2}, total=2)
    background_run(job.pk, task_id="first")

    again = background_run(job.pk, task_id="second")

    assert again.status == "succeeded"
    assert audit_events(subject_type="backgroundjob", subject_id=str(job.pk)).count() == 2


def test_a_refusal_fails_the_job_with_its_message(reviewer):
    job = background_start(kind=REFUSE, actor=reviewer, params={}, total=3)

    ran = background_run(job.pk)

    assert ran.status == "failed"
    assert ran.status_reason == "The records changed while you waited; look again."
    assert ran.result is None


def test_a_fault_fails_the_job_in_plain_words_and_logs_it(reviewer, caplog):
    job = background_start(kind=BREAK, actor=reviewer, params={})

    ran = background_run(job.pk)

    assert ran.status == "failed"
    assert "unexpected error" in ran.status_reason
    assert "ZeroDivisionError" not in ran.status_reason
    assert "ZeroDivisionError" in caplog.text


def test_progress_is_written_while_the_job_runs(reviewer):
    job = background_start(kind=WATCH, actor=reviewer, params={}, total=None)

    ran = background_run(job.pk)

    # What the page would have read in the middle of the run: the new total at once, then the
    # steps no faster than the throttle allows.
    assert ran.result == {"after_new_total": [1, 5], "after_quick_step": [1, 5]}
    assert (ran.done, ran.total) == (5, 5)


def test_registering_a_kind_twice_differently_is_a_programming_error():
    with pytest.raises(ValueError):
        register_background_kind(COUNT, label="Other", runner="x.y", result_template="z.html")


def test_a_job_queued_past_its_deadline_is_sent_again(reviewer, settings, django_capture_on_commit_callbacks):
    job = background_start(kind=COUNT, actor=reviewer, params={"to": 1})
    BackgroundJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=False) as sent:
        report = reconcile()

    assert report["background"]["resent"] == [str(job.pk)]
    assert len(sent) == 1
    assert BackgroundJob.objects.get(pk=job.pk).task_id != job.task_id


def test_a_running_job_whose_heartbeat_stopped_fails_as_lost(reviewer):
    job = background_start(kind=COUNT, actor=reviewer, params={"to": 1})
    stale = timezone.now() - timedelta(hours=1)
    BackgroundJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=stale, status_changed_at=stale)

    report = reconcile()

    assert report["background"]["lost"] == [str(job.pk)]
    lost = BackgroundJob.objects.get(pk=job.pk)
    assert lost.status == "failed"
    assert "worker running this job was lost" in lost.status_reason


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_default_queue_runs_a_started_job(operator, tmp_path):
    job = background_start(kind=AUDITLOG_VERIFY_KIND, actor=operator, params={})

    with celery_worker(tmp_path, "default") as worker:
        wait_until(lambda: BackgroundJob.objects.get(pk=job.pk).finished, timeout=120, explain=worker.log)

    ran = BackgroundJob.objects.get(pk=job.pk)
    assert (ran.status, ran.result["valid"], ran.task_id) == ("succeeded", True, job.task_id)
