"""The verify spool (generation/services/verification_spool.py): a queued verification's upload
waits there, never in the blob store, until its worker stores the verdict and deletes it; the
sweeper (beat) removes what a killed worker, a request that never committed or a queue that
never moved leaves behind, and fails a verification whose upload is gone, saying so."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from core.reconcile import grace, reconcile
from core.storage import blob_exists, blob_put_bytes
from generation.models import Verification, VerificationStatus
from generation.services.verification import verification_request, verification_run
from generation.services.verification_spool import VERIFY_SPOOL_LOCK, verify_upload_keep, verify_uploads_sweep
from generation.tasks import sweep_verify_uploads
from tests.generation.factories import astronaut, blob_files, files_holding, png
from tests.workers import celery_worker, wait_until

pytestmark = pytest.mark.slow
NOTHING = {"final": [], "orphaned": [], "expired": [], "gone": []}


def status(verification: Verification) -> str:
    return Verification.objects.get(pk=verification.pk).status


def spooled(tmp_path, verification: Verification):
    return tmp_path / "verify-spool" / str(verification.pk)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_verification_leaves_its_upload_for_the_sweeper(pki, tmp_path, settings):
    upload, blobs = png(astronaut(1024)), blob_files()
    verification = verification_request(data=upload)
    with celery_worker(tmp_path, "audit") as worker:
        # Killed as soon as it claims the request: its first task spends about 2 s loading the
        # watermark and fingerprint detectors before any verdict, so polling every 20 ms is in time.
        wait_until(lambda: status(verification) != VerificationStatus.QUEUED, timeout=120, explain=worker.log, every=0.02)
        worker.kill()
    assert status(verification) == VerificationStatus.RUNNING
    assert files_holding(tmp_path, upload) == [spooled(tmp_path, verification)]
    assert verify_uploads_sweep() == NOTHING  # still running, as far as anyone knows: kept

    limit = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + settings.CLEANROOM_RECONCILE_GRACE_SECONDS)
    assert reconcile(kinds=["verification"], now=timezone.now() + limit)["verification"]["lost"] == [str(verification.pk)]
    assert verify_uploads_sweep() == {**NOTHING, "final": [str(verification.pk)]}

    assert files_holding(tmp_path, upload) == [] and blob_files() == blobs
    assert Verification.objects.get(pk=verification.pk).error.startswith("worker_lost: ")


@pytest.mark.django_db
def test_an_upload_waiting_past_the_age_bound_is_removed_and_its_verification_failed(pki, tmp_path, settings):
    verification = verification_request(data=png(astronaut()))
    bound = timedelta(seconds=settings.CLEANROOM_VERIFY_SPOOL_MAX_AGE_SECONDS)

    assert verify_uploads_sweep(now=timezone.now() + bound - timedelta(seconds=30)) == NOTHING
    assert verify_uploads_sweep(now=timezone.now() + bound) == {**NOTHING, "expired": [str(verification.pk)]}

    verification.refresh_from_db()
    assert verification.status == VerificationStatus.FAILED and verification.error.startswith("upload_expired: ")
    assert not spooled(tmp_path, verification).exists()
    assert verification_run(verification_id=verification.pk) == "skipped"  # its message, late: nothing to do


@pytest.mark.django_db
def test_a_verification_whose_upload_is_gone_fails_saying_so(pki, tmp_path):
    by_worker = verification_request(data=png(astronaut()))
    by_sweeper = verification_request(data=png(astronaut().rotate(90)))
    for verification in (by_worker, by_sweeper):
        spooled(tmp_path, verification).unlink()  # removed by hand, or lost with a disk

    assert verification_run(verification_id=by_worker.pk) == VerificationStatus.FAILED
    assert verify_uploads_sweep() == {**NOTHING, "gone": [str(by_sweeper.pk)]}

    for verification in (by_worker, by_sweeper):
        verification.refresh_from_db()
        assert verification.status == VerificationStatus.FAILED and verification.error.startswith("upload_gone: ")


@pytest.mark.django_db
def test_a_verification_that_fails_removes_its_upload_too(pki, tmp_path, settings):
    empty = tmp_path / "trustmark-models"
    empty.mkdir()
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "BACKEND": "trustmark", "TRUSTMARK_MODEL_DIR": str(empty)}
    verification = verification_request(data=png(astronaut()))
    assert spooled(tmp_path, verification).exists()

    assert verification_run(verification_id=verification.pk) == VerificationStatus.FAILED

    verification.refresh_from_db()
    assert verification.error.startswith("misconfigured: ") and not spooled(tmp_path, verification).exists()


@pytest.mark.django_db
def test_an_upload_whose_request_never_committed_is_removed_after_the_grace(tmp_path):
    orphan = uuid.uuid4()  # a web process that died between writing the upload and committing its request
    verify_upload_keep(verification_id=orphan, data=png(astronaut()))

    assert verify_uploads_sweep() == NOTHING  # its request may be about to commit
    assert verify_uploads_sweep(now=timezone.now() + grace()) == {**NOTHING, "orphaned": [str(orphan)]}
    assert not (tmp_path / "verify-spool" / str(orphan)).exists()


@pytest.mark.django_db
def test_a_verification_queued_before_the_spool_still_reads_its_blob_and_leaves_it(pki):
    # As the previous release queued it: the upload stored as a blob named by its sha256.
    sha256 = blob_put_bytes(png(astronaut()))
    legacy = Verification.objects.create(sha256=sha256, task_id=str(uuid.uuid4()))

    assert verify_uploads_sweep() == NOTHING  # not gone: its worker reads the blob
    assert verification_run(verification_id=legacy.pk) == VerificationStatus.DONE
    assert blob_exists(sha256)  # the same bytes may be a governed asset's: never deleted here


@pytest.mark.django_db
def test_beat_sweeps_the_spool_on_the_audit_queue_that_reads_it(settings):
    from config.celery import app

    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "generation.sweep_verify_uploads")
    assert entry["schedule"] <= 300
    assert app.amqp.router.route({}, "generation.sweep_verify_uploads")["queue"].name == "audit"
    assert sweep_verify_uploads.apply().get() == NOTHING


@pytest.mark.django_db
def test_a_second_sweep_does_nothing_while_another_holds_the_lock(pki, tmp_path):
    verification = verification_request(data=png(astronaut()))
    spooled(tmp_path, verification).unlink()
    database = connection.settings_dict
    with psycopg.connect(
        host=database["HOST"], port=database["PORT"], user=database["USER"], dbname=database["NAME"], autocommit=True
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [VERIFY_SPOOL_LOCK])
        assert verify_uploads_sweep() is None
    assert status(verification) == VerificationStatus.QUEUED
