"""Generation jobs and verification requests on the shared reconciler (core.reconcile): a lost
message is sent again and a real worker on the embedded broker finishes the work; a worker killed
mid-task (the embedded broker never hands its message back) leaves a row that fails as
`worker_lost` as soon as its heartbeat is overdue; a row claimed without a heartbeat still fails
once past its task's hard time limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from core.models import AuditEvent, EventType
from core.reconcile import reconcile
from generation.models import GenerationJob, JobStatus, Verification, VerificationStatus
from generation.services.execution import job_run
from generation.services.requests import generation_request, job_claim
from generation.services.verification import verification_request, verification_run, verification_transition
from tests.generation.factories import FAST, SIZE, astronaut, blob_files, files_holding, png
from tests.generation.slow_watermark import SLOW_WATERMARK
from tests.workers import Worker, celery_worker, lose_messages, queued_messages, reconcile_until, wait_until

pytestmark = pytest.mark.slow
# The worker beats every second and the reconciler (this process) waits three without a beat.
HEARTBEAT_TIMEOUT = 3
HEARTBEAT = {"CLEANROOM_HEARTBEAT_SECONDS": "1", "CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT)}


def text_job(world, actor) -> GenerationJob:
    parameters = {"prompt": "a lighthouse at dusk", "width": SIZE, "height": SIZE, **FAST}
    return generation_request(model_id=world.model.pk, kind="text_to_image", parameters=parameters, seed=9, actor=actor)


def past_the_time_limit() -> timedelta:
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + settings.CLEANROOM_RECONCILE_GRACE_SECONDS)


@contextmanager
def lingering_worker(tmp_path, queue: str, **extra: str) -> Iterator[tuple[Worker, Callable[[], bool]]]:
    """A worker whose watermark stage (embedding or detecting) takes ten minutes, beating every
    second, and a check that it has started that stage."""
    marker = tmp_path / "lingering"
    env = {"CLEANROOM_WATERMARK_BACKEND": SLOW_WATERMARK, "CLEANROOM_TEST_SLOW_MARKER": str(marker)}
    with celery_worker(tmp_path, queue, **env, CLEANROOM_TEST_SLOW_SECONDS="600", **HEARTBEAT, **extra) as worker:
        yield worker, lambda: marker.exists() and any(marker.iterdir())


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_message_was_lost_is_sent_again_and_generated_by_a_worker(world, product, tmp_path):
    job = text_job(world, product)
    assert lose_messages("gpu", job.task_id) == 1
    assert reconcile(kinds=["generation"]) == {"generation": {"resent": [], "lost": []}}  # fresh: left alone
    report = reconcile(kinds=["generation"], now=timezone.now() + timedelta(seconds=901))
    assert report == {"generation": {"resent": [str(job.pk)], "lost": []}}
    resent_as = GenerationJob.objects.get(pk=job.pk).task_id
    assert resent_as != job.task_id and len(queued_messages("gpu", resent_as)) == 1
    with celery_worker(tmp_path, "gpu", CLEANROOM_GENERATION_DEVICE="cpu") as worker:
        wait_until(lambda: GenerationJob.objects.get(pk=job.pk).status not in (JobStatus.QUEUED, JobStatus.RUNNING),
                   timeout=300, explain=worker.log)  # fmt: skip
    done = GenerationJob.objects.get(pk=job.pk)
    assert (done.status, done.task_id) == (JobStatus.SUCCEEDED, resent_as), done.error
    # The original message turning up after all finds the job done under another task id.
    assert job_run(job_id=str(job.pk), task_id=job.task_id) == "skipped"
    assert GenerationJob.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_was_killed_fails_as_worker_lost_once_its_heartbeat_stops(world, product, tmp_path, settings):
    settings.CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS = HEARTBEAT_TIMEOUT
    with lingering_worker(tmp_path, "gpu", CLEANROOM_GENERATION_DEVICE="cpu") as (doomed, watermarking):
        job = text_job(world, product)
        wait_until(watermarking, timeout=300, explain=doomed.log)
        doomed.kill()
    assert queued_messages("gpu", job.task_id) == []  # the embedded broker lost the message with its worker
    assert GenerationJob.objects.get(pk=job.pk).status == JobStatus.RUNNING

    took = reconcile_until(lambda: GenerationJob.objects.get(pk=job.pk).status != JobStatus.RUNNING, timeout=60)

    print(f"generation job recovered {took:.1f} s after its worker was killed (heartbeat timeout {HEARTBEAT_TIMEOUT} s)")
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error.startswith("worker_lost: ")
    assert f"no heartbeat for {HEARTBEAT_TIMEOUT} s" in job.error
    last = AuditEvent.objects.filter(event_type=EventType.GENERATION_STATUS_CHANGED, subject_id=str(job.pk)).latest("seq")
    assert (last.details["from"], last.details["to"], last.details["reason"]) == ("running", "failed", job.error)


@pytest.mark.django_db
def test_a_job_claimed_without_a_heartbeat_still_fails_as_worker_lost_once_past_its_time_limit(world, product):
    job = text_job(world, product)
    assert job_claim(job_id=job.pk, task_id=job.task_id) is not None
    # Claimed by a worker of the previous release, which kept no heartbeat: the deadline decides.
    GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=None)
    limit = past_the_time_limit()
    assert reconcile(kinds=["generation"], now=timezone.now() + limit - timedelta(seconds=30))["generation"]["lost"] == []
    assert reconcile(kinds=["generation"], now=timezone.now() + limit)["generation"]["lost"] == [str(job.pk)]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error.startswith("worker_lost: ")
    last = AuditEvent.objects.filter(event_type=EventType.GENERATION_STATUS_CHANGED, subject_id=str(job.pk)).latest("seq")
    assert (last.details["from"], last.details["to"]) == ("running", "failed")
    assert last.details["reason"].startswith("worker_lost: ")
    assert reconcile(kinds=["generation"], now=timezone.now() + limit)["generation"]["lost"] == []  # once


@pytest.mark.django_db(transaction=True)
def test_a_verification_whose_message_was_lost_is_sent_again_and_answered_by_a_worker(pki, tmp_path):
    upload, blobs = png(astronaut()), blob_files()
    verification = verification_request(data=upload)
    assert verification.status == VerificationStatus.QUEUED
    assert lose_messages("audit", verification.task_id) == 1
    assert reconcile(kinds=["verification"]) == {"verification": {"resent": [], "lost": []}}  # fresh: left alone
    report = reconcile(kinds=["verification"], now=timezone.now() + timedelta(seconds=301))
    assert report == {"verification": {"resent": [str(verification.pk)], "lost": []}}
    with celery_worker(tmp_path, "audit") as worker:
        wait_until(lambda: Verification.objects.get(pk=verification.pk).status == VerificationStatus.DONE, timeout=180,
                   explain=worker.log)  # fmt: skip
    verdict = Verification.objects.get(pk=verification.pk).verdict
    assert verdict["traced_by"] is None and verdict["errors"][0].startswith("unknown:")
    # The worker deleted the upload once the verdict was stored, and no blob was ever made of it.
    assert files_holding(tmp_path, upload) == [] and blob_files() == blobs


@pytest.mark.django_db(transaction=True)
def test_a_verification_whose_worker_was_killed_fails_as_worker_lost_once_its_heartbeat_stops(pki, tmp_path, settings):
    settings.CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS = HEARTBEAT_TIMEOUT
    with lingering_worker(tmp_path, "audit") as (doomed, watermarking):
        verification = verification_request(data=png(astronaut()))
        wait_until(watermarking, timeout=180, explain=doomed.log)
        doomed.kill()
    assert queued_messages("audit", verification.task_id) == []  # lost with its worker
    assert Verification.objects.get(pk=verification.pk).status == VerificationStatus.RUNNING

    took = reconcile_until(lambda: Verification.objects.get(pk=verification.pk).status != VerificationStatus.RUNNING, timeout=60)

    print(f"verification recovered {took:.1f} s after its worker was killed (heartbeat timeout {HEARTBEAT_TIMEOUT} s)")
    verification.refresh_from_db()
    assert verification.status == VerificationStatus.FAILED and verification.error.startswith("worker_lost: ")
    assert f"no heartbeat for {HEARTBEAT_TIMEOUT} s" in verification.error


@pytest.mark.django_db
def test_a_verification_claimed_without_a_heartbeat_still_fails_as_worker_lost_once_past_its_time_limit(pki):
    verification = verification_request(data=png(astronaut()))
    # Taken by a worker of the previous release, which kept no heartbeat: the deadline decides.
    verification_transition(verification_id=verification.pk, to=VerificationStatus.RUNNING)
    events = AuditEvent.objects.count()
    limit = past_the_time_limit()
    assert reconcile(kinds=["verification"], now=timezone.now() + limit - timedelta(seconds=30))["verification"]["lost"] == []
    assert reconcile(kinds=["verification"], now=timezone.now() + limit)["verification"]["lost"] == [str(verification.pk)]
    verification.refresh_from_db()
    assert verification.status == VerificationStatus.FAILED and verification.error.startswith("worker_lost: ")
    assert verification.finished_at is not None
    assert AuditEvent.objects.count() == events  # a verification is not a governance write
    assert verification_run(verification_id=verification.pk) == "skipped"  # a late message changes nothing
