from __future__ import annotations

import pytest

from core.audit import auditlog_verify
from core.exceptions import ApplicationError
from core.models import AuditEvent
from provenance.models import AssetStatus
from provenance.services.assets import asset_transition, assets_transition
from tests.provenance.factories import AssetFactory

pytestmark = pytest.mark.django_db


def test_a_bulk_transition_moves_only_the_assets_the_state_machine_allows():
    ingested = [AssetFactory(status=AssetStatus.INGESTED) for _ in range(3)]
    rejected = AssetFactory(status=AssetStatus.REJECTED)
    moved = assets_transition(
        asset_ids=[a.pk for a in [*ingested, rejected]], to=AssetStatus.AUDITING, actor=None, reason="audit"
    )
    assert sorted(moved) == sorted(str(a.pk) for a in ingested)
    rejected.refresh_from_db()
    assert rejected.status == AssetStatus.REJECTED
    events = AuditEvent.objects.filter(event_type="asset.status_changed")
    assert sorted(e.subject_id for e in events) == sorted(moved)
    assert {(e.details["from"], e.details["to"]) for e in events} == {("ingested", "auditing")}
    assert auditlog_verify().valid


def test_an_illegal_single_transition_is_refused():
    asset = AssetFactory(status=AssetStatus.ERASED)
    with pytest.raises(ApplicationError) as refused:
        asset_transition(asset_id=asset.pk, to=AssetStatus.CLEAR, actor=None)
    assert refused.value.code == "illegal_transition"
