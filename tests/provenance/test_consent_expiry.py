"""A consent's expiry is recorded (beat's `provenance.expire_consents`) and, like a revocation,
taints every snapshot that still counts on it; the assets keep their statuses."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection

from core.models import AuditEvent, EventType
from provenance.models import Asset, AssetStatus, ConsentEvent, Snapshot, SnapshotStatus
from provenance.services.consent import CONSENT_EXPIRY_LOCK, consent_expire_due
from provenance.services.snapshots import snapshot_approve, snapshot_create
from provenance.tasks import expire_consents
from tests.provenance.factories import AssetFactory, ConsentFactory, DatasetFactory, add_to_dataset

pytestmark = pytest.mark.django_db
EXPIRES = datetime(2030, 6, 1, tzinfo=UTC)
AFTER = datetime(2030, 6, 2, tzinfo=UTC)


def snapshot_of(consent, ml_engineer, *, approvers=()) -> Snapshot:
    dataset = DatasetFactory()
    add_to_dataset(dataset, AssetFactory(consent=consent), AssetFactory(consent=consent))
    snapshot_id = str(snapshot_create(dataset_slug=dataset.slug, actor=ml_engineer).pk)
    for reviewer in approvers:
        snapshot_approve(snapshot_id=snapshot_id, reviewer=reviewer)
    return Snapshot.objects.get(pk=snapshot_id)


def expiries(consent) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=EventType.CONSENT_EXPIRED, subject_id=str(consent.pk)))


def test_an_expiry_is_written_to_the_audit_log_once(db):
    consent = ConsentFactory(expires_at=EXPIRES)
    assert consent_expire_due(at=AFTER) == [str(consent.pk)]
    assert consent_expire_due(at=AFTER) == []
    [event] = expiries(consent)
    assert event.details == {"expires_at": EXPIRES.isoformat()} and event.actor == "system"
    assert ConsentEvent.objects.filter(consent=consent, kind="expired").count() == 1


def test_an_approved_snapshot_holding_an_expired_consent_becomes_tainted_with_the_reason(ml_engineer, reviewer, second_reviewer):
    consent = ConsentFactory(expires_at=EXPIRES)
    approved = snapshot_of(consent, ml_engineer, approvers=(reviewer, second_reviewer))
    in_review = snapshot_of(consent, ml_engineer)
    assert (approved.status, in_review.status) == (SnapshotStatus.APPROVED, SnapshotStatus.IN_REVIEW)
    events_before = AuditEvent.objects.count()

    consent_expire_due(at=AFTER)

    for snapshot in (approved, in_review):
        snapshot.refresh_from_db()
        assert snapshot.status == SnapshotStatus.TAINTED
        assert snapshot.status_reason == f"consent {consent.pk} expired 2030-06-01"
    written = list(AuditEvent.objects.filter(seq__gt=events_before).values_list("event_type", "subject_id"))
    assert written == [
        (EventType.CONSENT_EXPIRED, str(consent.pk)),
        (EventType.SNAPSHOT_STATUS_CHANGED, str(approved.pk)),
        (EventType.SNAPSHOT_STATUS_CHANGED, str(in_review.pk)),
    ]
    assert set(Asset.objects.filter(consent=consent).values_list("status", flat=True)) == {AssetStatus.CLEAR}
    assert consent_expire_due(at=AFTER) == [] and AuditEvent.objects.count() == events_before + 3


def test_a_snapshot_not_holding_the_expired_consent_is_untouched(ml_engineer, reviewer, second_reviewer):
    expiring, lasting = ConsentFactory(expires_at=EXPIRES), ConsentFactory(expires_at=None)
    other = snapshot_of(lasting, ml_engineer, approvers=(reviewer, second_reviewer))
    consent_expire_due(at=AFTER)
    other.refresh_from_db()
    assert other.status == SnapshotStatus.APPROVED and expiring.pk != lasting.pk


def test_beat_expires_consents_through_celery(settings):
    consent = ConsentFactory(expires_at=datetime(2026, 1, 2, tzinfo=UTC))  # already past
    assert settings.CELERY_BEAT_SCHEDULE["expire-consents"]["task"] == "provenance.expire_consents"
    assert expire_consents.apply().get() == [str(consent.pk)]
    assert len(expiries(consent)) == 1


def test_a_second_expiry_pass_writes_nothing_while_another_holds_the_lock():
    consent = ConsentFactory(expires_at=EXPIRES)
    database = connection.settings_dict
    with psycopg.connect(
        host=database["HOST"], port=database["PORT"], user=database["USER"], dbname=database["NAME"], autocommit=True
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [CONSENT_EXPIRY_LOCK])
        assert consent_expire_due(at=AFTER) == []
        other.execute("SELECT pg_advisory_unlock(%s)", [CONSENT_EXPIRY_LOCK])
    assert expiries(consent) == []
    assert consent_expire_due(at=AFTER) == [str(consent.pk)]
