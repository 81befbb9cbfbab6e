"""The heartbeat of a claimed row (core.heartbeat): stamped by the claim, kept fresh by a thread
while the work runs, never written once the work has ended or left this task; the reconciler
never takes a row whose worker still beats, and takes one whose heartbeat stopped at once.

A real thread writes through its own database connection, so these tests commit (transaction=True)."""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from core.heartbeat import heartbeat
from core.reconcile import reconcile
from generation.models import Verification, VerificationStatus
from generation.services.verification import VERIFICATION_STATES
from tests.workers import reconcile_until, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _quick_heartbeat(settings):
    settings.CLEANROOM_HEARTBEAT_SECONDS = 0.2
    settings.CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS = 1


def claimed(task_id: str = "t-1") -> Verification:
    """A verification request a worker has just claimed, as `verification_run` claims it."""
    queued = Verification.objects.create(sha256="0" * 64, task_id=task_id)
    return VERIFICATION_STATES.claim(
        queued.pk,
        task_id=task_id,
        claimable=VerificationStatus.QUEUED,
        running=VerificationStatus.RUNNING,
        lost=VerificationStatus.FAILED,
    )


def beat_of(verification: Verification):
    return Verification.objects.values_list("heartbeat_at", flat=True).get(pk=verification.pk)


def test_the_claim_stamps_the_heartbeat_and_the_worker_keeps_it_fresh_until_the_work_ends():
    before = timezone.now()
    verification = claimed()
    assert beat_of(verification) >= before

    stamped = beat_of(verification)
    with heartbeat(Verification, verification.pk, running=VerificationStatus.RUNNING, task_id="t-1"):
        wait_until(lambda: beat_of(verification) > stamped, timeout=10)
    ended = beat_of(verification)

    time.sleep(0.6)  # three beats' worth
    assert beat_of(verification) == ended


def test_a_heartbeat_never_writes_a_row_that_ended_or_that_another_task_took():
    ended = claimed("t-1")
    Verification.objects.filter(pk=ended.pk).update(status=VerificationStatus.DONE)
    taken = claimed("t-2")
    Verification.objects.filter(pk=taken.pk).update(task_id="t-3")
    stamps = {row.pk: beat_of(row) for row in (ended, taken)}

    running = VerificationStatus.RUNNING
    with (
        heartbeat(Verification, ended.pk, running=running, task_id="t-1"),
        heartbeat(Verification, taken.pk, running=running, task_id="t-2"),
    ):
        time.sleep(0.6)  # three beats' worth

    assert {row.pk: beat_of(row) for row in (ended, taken)} == stamps


def test_a_row_whose_worker_still_beats_is_never_reaped_and_one_whose_heartbeat_stopped_is():
    verification = claimed()
    with heartbeat(Verification, verification.pk, running=VerificationStatus.RUNNING, task_id="t-1"):
        watched_until = time.monotonic() + 2.5  # more than twice the timeout
        while time.monotonic() < watched_until:
            assert reconcile(kinds=["verification"]) == {"verification": {"resent": [], "lost": []}}
            time.sleep(0.1)
    assert Verification.objects.get(pk=verification.pk).status == VerificationStatus.RUNNING

    reconcile_until(lambda: Verification.objects.get(pk=verification.pk).status != VerificationStatus.RUNNING, timeout=10)

    verification.refresh_from_db()
    assert verification.status == VerificationStatus.FAILED
    assert verification.error == (
        "worker_lost: the worker running this verification was lost (no heartbeat for 1 s); request it again"
    )


def open_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_the_heartbeat_closes_its_own_database_connection_when_the_work_ends():
    verification = claimed()
    before = open_connections()
    with heartbeat(Verification, verification.pk, running=VerificationStatus.RUNNING, task_id="t-1"):
        wait_until(lambda: open_connections() > before, timeout=10)  # the thread's own, while it beats
    wait_until(lambda: open_connections() == before, timeout=10)


def test_a_row_that_a_beat_holds_locked_at_the_time_of_the_pass_is_not_reaped_by_it():
    verification = claimed()
    Verification.objects.filter(pk=verification.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=1))
    with other_session() as beat:  # the worker's beat, in progress
        beat.execute("BEGIN")
        beat.execute("SELECT 1 FROM generation_verification WHERE id = %s FOR UPDATE", [verification.pk])

        assert reconcile(kinds=["verification"]) == {"verification": {"resent": [], "lost": []}}

        beat.execute("ROLLBACK")
    assert reconcile(kinds=["verification"])["verification"]["lost"] == [str(verification.pk)]


def other_session() -> psycopg.Connection:
    database = connection.settings_dict
    return psycopg.connect(
        host=database["HOST"], port=database["PORT"], user=database["USER"], dbname=database["NAME"], autocommit=True
    )
