"""A model trained on a snapshot whose consent has since expired may no longer generate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.exceptions import ApplicationError
from core.models import AuditEvent, EventType
from generation.models import GenerationJob
from generation.services.requests import generation_request
from provenance.models import SnapshotStatus
from provenance.services.consent import consent_expire_due, consent_renew

pytestmark = pytest.mark.django_db


def test_a_model_trained_on_a_consent_that_expired_is_refused(world, contributor, product):
    consent_renew(consent_id=world.consent_id, actor=contributor, expires_at=datetime(2030, 6, 1, tzinfo=UTC))
    assert consent_expire_due(at=datetime(2030, 6, 2, tzinfo=UTC)) == [world.consent_id]
    world.snapshot.refresh_from_db()
    assert world.snapshot.status == SnapshotStatus.TAINTED
    with pytest.raises(ApplicationError) as refused:
        generation_request(model_id=world.model.pk, kind="text_to_image", parameters={"prompt": "a lighthouse"}, actor=product)
    assert refused.value.code == "snapshot_tainted" and "expired 2030-06-01" in refused.value.message
    assert not GenerationJob.objects.exists()
    assert AuditEvent.objects.filter(event_type=EventType.GENERATION_REFUSED).latest("seq").details["code"] == "snapshot_tainted"
