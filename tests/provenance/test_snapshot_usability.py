"""Whether a snapshot may be used is decided in one place (`snapshot_refusal`): tainted, not
approved, or holding a consent that lapsed since it was built. Export, training, generation and
verify all ask it, so the answer cannot drift between them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.exceptions import ApplicationError
from provenance.models import ConsentRecord, Snapshot
from provenance.selectors import snapshot_lapsed_consents, snapshot_refusal
from provenance.services.consent import consent_revoke
from provenance.services.snapshot_export import snapshot_container
from provenance.services.snapshots import snapshot_approve, snapshot_create, snapshot_reject
from tests.provenance.factories import AssetFactory, ConsentFactory, DatasetFactory, add_to_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def expiring():
    return ConsentFactory(expires_at=timezone.now() + timedelta(days=30))


@pytest.fixture
def built(ml_engineer, expiring) -> Snapshot:
    dataset = DatasetFactory(slug="faces")
    add_to_dataset(dataset, AssetFactory(consent=expiring), AssetFactory(), AssetFactory())
    return snapshot_create(dataset_slug="faces", actor=ml_engineer)


@pytest.fixture
def approved(built, reviewer, second_reviewer) -> Snapshot:
    snapshot_approve(snapshot_id=str(built.pk), reviewer=reviewer)
    snapshot_approve(snapshot_id=str(built.pk), reviewer=second_reviewer)
    built.refresh_from_db()
    return built


def lapse(consent: ConsentRecord) -> None:
    # Stands in for the days passing: the expiry moves into the past rather than the clock forward.
    ConsentRecord.objects.filter(pk=consent.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_an_approved_snapshot_whose_consents_hold_may_be_used(approved):
    assert snapshot_refusal(approved) is None
    assert snapshot_lapsed_consents(approved) == []


def test_a_snapshot_in_review_is_not_approved(built):
    refusal = snapshot_refusal(built)
    assert (refusal.code, refusal.status) == ("snapshot_not_approved", 409)
    assert f"snapshot {built.pk} is in_review, not approved" in refusal.message


def test_a_tainted_snapshot_names_why_it_was_tainted(approved, operator):
    consent_id = approved.members.first().consent_id
    consent_revoke(consent_id=str(consent_id), actor=operator, reason="withdrawn by the photographer")
    approved.refresh_from_db()

    refusal = snapshot_refusal(approved, what="model m's snapshot")

    assert refusal.code == "snapshot_tainted"
    assert refusal.message.startswith(f"model m's snapshot {approved.pk} is tainted")
    assert "withdrawn by the photographer" in refusal.message


def test_a_consent_that_lapsed_after_approval_stops_every_use(approved, expiring):
    lapse(expiring)

    refusal = snapshot_refusal(approved)

    assert refusal.code == "consent_lapsed" and refusal.extra["lapsed_consents"] == [str(expiring.pk)]
    assert snapshot_lapsed_consents(approved) == [str(expiring.pk)]
    # Export asks the same question (it used to check the status alone).
    with pytest.raises(ApplicationError) as refused:
        snapshot_container(approved.pk)
    assert refused.value.code == "consent_lapsed"


def test_a_lapsed_consent_refuses_approval_but_not_rejection(built, expiring, reviewer, second_reviewer):
    lapse(expiring)

    with pytest.raises(ApplicationError) as refused:
        snapshot_approve(snapshot_id=str(built.pk), reviewer=reviewer)
    assert refused.value.code == "consent_lapsed"

    rejected = snapshot_reject(snapshot_id=str(built.pk), reviewer=second_reviewer, reason="a consent expired")
    assert rejected.status == "rejected"
