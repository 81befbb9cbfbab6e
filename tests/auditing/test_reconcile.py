"""Audits on the shared reconciler (core.reconcile): a lost audit message is sent again and a real
worker on the embedded broker finishes the audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from auditing.services import audits_request
from core.reconcile import reconcile
from provenance.models import Asset, AssetStatus
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from tests.provenance.factories import image_bytes, write_consent
from tests.workers import celery_worker, lose_messages, queued_messages, wait_until

pytestmark = pytest.mark.slow
SYNTHETIC = "auditing.auditors.synthetic.SyntheticAuditor"


@pytest.fixture
def photo(transactional_db, contributor, tmp_path, settings) -> str:
    settings.CLEANROOM_AUDITORS = [SYNTHETIC]
    dataset_create(slug="faces", scopes=["ai_training"])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "camera.jpg").write_bytes(image_bytes(1))
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])
    result = ingest_paths(
        paths=[str(tmp_path / "in")], dataset_slug="faces", contributor_email="carla@example.com", consent_path=str(consent)
    )
    return result["accepted"][0]["asset_id"]


def test_an_audit_whose_message_was_lost_is_sent_again_and_finished_by_a_worker(photo, tmp_path):
    audits_request(asset_ids=[photo])
    assert lose_messages("audit") == 1
    assert reconcile(kinds=["audits"]) == {"audits": {"resent": [], "lost": []}}  # fresh: left alone
    later = timezone.now() + timedelta(seconds=901)
    assert reconcile(kinds=["audits"], now=later) == {"audits": {"resent": [photo], "lost": []}}
    assert len(queued_messages("audit")) == 1
    with celery_worker(tmp_path, "audit", CLEANROOM_AUDITORS=SYNTHETIC) as worker:
        wait_until(lambda: Asset.objects.get(pk=photo).status == AssetStatus.CLEAR, timeout=90, explain=worker.log)
