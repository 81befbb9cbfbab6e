"""The shared reconciler (core.reconcile): one pass at a time under one PostgreSQL advisory lock,
every registered kind, nothing done for fresh rows."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.reconcile import RECONCILE_LOCK, advisory_lock, reconcile, reconcilers
from core.tasks import reconcile as reconcile_task
from provenance.models import Asset, AssetStatus
from tests.provenance.factories import AssetFactory

pytestmark = pytest.mark.django_db


def other_session() -> psycopg.Connection:
    database = connection.settings_dict
    return psycopg.connect(
        host=database["HOST"], port=database["PORT"], user=database["USER"], dbname=database["NAME"], autocommit=True
    )


def test_every_kind_of_queued_work_is_registered_and_beat_runs_the_pass_every_fifteen_seconds(settings):
    assert [r.kind for r in reconcilers()] == ["background", "audits", "training", "generation", "verification"]
    assert settings.CELERY_BEAT_SCHEDULE["reconcile"] == {"task": "core.reconcile", "schedule": 15.0}
    assert "auditing.reconcile_audits" not in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def test_a_pass_with_nothing_stuck_changes_nothing_through_celery():
    assert reconcile_task.apply().get() == {
        kind: {"resent": [], "lost": []} for kind in ("background", "audits", "training", "generation", "verification")
    }


def test_a_second_reconciler_does_nothing_while_another_holds_the_lock(django_capture_on_commit_callbacks):
    stuck = AssetFactory(status=AssetStatus.AUDITING)
    later = timezone.now() + timedelta(days=1)
    with other_session() as other:
        other.execute("BEGIN")  # another beat's pass, in progress
        assert other.execute("SELECT pg_try_advisory_xact_lock(%s)", [RECONCILE_LOCK]).fetchone()[0]
        with django_capture_on_commit_callbacks() as sent:
            assert reconcile(now=later) is None
        assert sent == [] and Asset.objects.get(pk=stuck.pk).status_changed_at == stuck.status_changed_at
        other.execute("COMMIT")
    with django_capture_on_commit_callbacks() as sent:
        assert reconcile(now=later)["audits"]["resent"] == [str(stuck.pk)]
    assert len(sent) == 1


def test_a_running_pass_keeps_other_sessions_from_the_lock():
    with transaction.atomic():
        assert advisory_lock(RECONCILE_LOCK)
        with other_session() as other:
            assert other.execute("SELECT pg_try_advisory_xact_lock(%s)", [RECONCILE_LOCK]).fetchone()[0] is False
