"""The one state-machine helper every status write goes through: legal moves only, the row
locked, the audit event in the same transaction, and claims taken exactly once."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.audit import audit_events, auditlog_verify
from core.exceptions import ApplicationError
from core.state import WORKER_LOST
from provenance.models import AssetStatus, SnapshotStatus
from provenance.services.assets import ASSET_STATES, asset_transition, assets_transition
from provenance.services.snapshots import SNAPSHOT_STATES
from tests.provenance.factories import AssetFactory

pytestmark = pytest.mark.django_db


def test_a_legal_move_is_saved_with_its_time_and_reason_and_audited(ml_engineer):
    asset = AssetFactory(status=AssetStatus.INGESTED)
    before = asset.status_changed_at

    moved = asset_transition(asset_id=asset.pk, to=AssetStatus.CLEAR, actor=ml_engineer, reason="checked by hand")

    asset.refresh_from_db()
    assert asset.status == moved.status == AssetStatus.CLEAR and asset.status_changed_at > before
    [event] = audit_events(event_type="asset.status_changed", subject_id=str(asset.pk))
    assert event.actor == "mel" and event.details == {"from": "ingested", "to": "clear", "reason": "checked by hand"}
    assert auditlog_verify().valid


def test_an_illegal_move_is_refused_and_changes_nothing(ml_engineer):
    asset = AssetFactory(status=AssetStatus.WITHDRAWN)

    with pytest.raises(ApplicationError) as refused:
        asset_transition(asset_id=asset.pk, to=AssetStatus.APPROVED, actor=ml_engineer)

    assert (refused.value.code, refused.value.status) == ("illegal_transition", 409)
    assert f"asset {asset.pk} is withdrawn and cannot become approved" in refused.value.message
    asset.refresh_from_db()
    assert asset.status == AssetStatus.WITHDRAWN
    assert not audit_events(event_type="asset.status_changed", subject_id=str(asset.pk))


def test_many_rows_move_at_once_and_those_that_may_not_stay(ml_engineer):
    movable = [AssetFactory(status=AssetStatus.INGESTED) for _ in range(3)]
    stuck = AssetFactory(status=AssetStatus.ERASED)

    moved = assets_transition(asset_ids=[a.pk for a in [*movable, stuck]], to=AssetStatus.AUDITING, actor=None, reason="audit")

    assert sorted(moved) == sorted(str(a.pk) for a in movable)
    assert {a.pk: a.status for a in type(stuck).objects.filter(pk__in=[a.pk for a in [*movable, stuck]])} == {
        **{a.pk: AssetStatus.AUDITING for a in movable},
        stuck.pk: AssetStatus.ERASED,
    }
    assert len(audit_events(event_type="asset.status_changed")) == 3


def test_a_move_rolled_back_leaves_neither_the_status_nor_its_event(ml_engineer):
    asset = AssetFactory(status=AssetStatus.INGESTED)

    with pytest.raises(RuntimeError), transaction.atomic():
        asset_transition(asset_id=asset.pk, to=AssetStatus.CLEAR, actor=ml_engineer)
        raise RuntimeError("the governance write that included the move failed")

    asset.refresh_from_db()
    assert asset.status == AssetStatus.INGESTED
    assert not audit_events(event_type="asset.status_changed", subject_id=str(asset.pk))


def test_final_states_are_those_with_no_way_out():
    assert SNAPSHOT_STATES.final == {SnapshotStatus.REJECTED, SnapshotStatus.TAINTED}
    assert ASSET_STATES.final == {AssetStatus.ERASED}  # the row stays as a tombstone


def test_a_queued_job_is_claimed_once_and_a_redelivered_message_fails_it_as_lost(ml_engineer):
    from training.models import RunStatus
    from training.services.requests import RUN_STATES

    run = _queued_training_run()

    first = RUN_STATES.claim(
        run.pk, task_id="t-1", claimable=RunStatus.QUEUED, running=RunStatus.RUNNING, lost=RunStatus.FAILED, lost_reason="lost"
    )
    other = RUN_STATES.claim(
        run.pk, task_id="t-2", claimable=RunStatus.QUEUED, running=RunStatus.RUNNING, lost=RunStatus.FAILED, lost_reason="lost"
    )
    again = RUN_STATES.claim(
        run.pk, task_id="t-1", claimable=RunStatus.QUEUED, running=RunStatus.RUNNING, lost=RunStatus.FAILED, lost_reason="lost"
    )

    assert first is not None and first.status == RunStatus.RUNNING and first.task_id == "t-1"
    assert other is None and again is None
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    moves = [e.details for e in audit_events(event_type="training.status_changed", subject_id=str(run.pk))]
    assert moves[-2:] == [
        {"from": "queued", "to": "running", "reason": "claimed by a worker", "task_id": "t-1"},
        {"from": "running", "to": "failed", "reason": "lost", "code": WORKER_LOST},
    ]


def _queued_training_run():
    """A queued run row as `training_request` leaves it, without a world to train on: the claim
    helper is about the row's status only."""
    from provenance.models import Snapshot
    from tests.core.factories import UserFactory
    from tests.provenance.factories import DatasetFactory
    from training.models import BaseModel, TrainingRun

    user = UserFactory()
    snapshot = Snapshot.objects.create(dataset=DatasetFactory(), scopes=[], merkle_root="0" * 64, asset_count=0, created_by=user)
    base_model = BaseModel.objects.create(
        name="tiny", licence="MIT", directory="/nowhere", pipeline_class="StableDiffusionPipeline", files=[], sha256="0" * 64
    )
    return TrainingRun.objects.create(snapshot=snapshot, base_model=base_model, steps=1, seed=1, config={}, requested_by=user)
