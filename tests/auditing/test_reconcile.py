"""Audits on the shared reconciler (core.reconcile): a lost audit message is sent again and a real
worker on the embedded broker finishes the audit; an audit whose worker was killed (the embedded
broker never hands its message back) is sent again as soon as its heartbeat is overdue, the dead
attempt counted; an auditor that fails on every attempt is given up, and the reconciler stops
sending its asset."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from auditing.models import AuditRun
from auditing.services import audits_request
from core.reconcile import reconcile
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset, AssetStatus
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from tests.provenance.factories import image_bytes, write_consent
from tests.workers import celery_worker, lose_messages, queued_messages, reconcile_until, wait_until

pytestmark = pytest.mark.slow
SYNTHETIC = "auditing.auditors.synthetic.SyntheticAuditor"
BROKEN = "tests.auditing.auditors.BrokenAuditor"
SLOW = "tests.auditing.auditors.SlowAuditor"
# The worker beats every second and the reconciler (this process) waits three without a beat.
HEARTBEAT_TIMEOUT = 3
HEARTBEAT = {"CLEANROOM_HEARTBEAT_SECONDS": "1", "CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT)}


@pytest.fixture
def photo(transactional_db, contributor, tmp_path, settings) -> str:
    settings.CLEANROOM_AUDITORS = [SYNTHETIC]
    dataset_create(slug="faces", scopes=["ai_training"])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "camera.jpg").write_bytes(image_bytes(1))
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])
    result = IngestResultSerializer(
        ingest_paths(
            paths=[str(tmp_path / "in")], dataset_slug="faces", contributor_email="carla@example.com", consent_path=str(consent)
        )
    ).data
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


def test_an_audit_whose_worker_was_killed_is_sent_again_once_its_heartbeat_stops(photo, tmp_path, settings):
    settings.CLEANROOM_AUDITORS = [SYNTHETIC, SLOW]
    settings.CLEANROOM_HEARTBEAT_TIMEOUT_SECONDS = HEARTBEAT_TIMEOUT
    marker = tmp_path / "lingering"
    env = {"CLEANROOM_AUDITORS": f"{SYNTHETIC},{SLOW}", "CLEANROOM_TEST_SLOW_MARKER": str(marker), **HEARTBEAT}
    slow = AuditRun.objects.filter(asset_id=photo, auditor="slow")
    with celery_worker(tmp_path, "audit", **env, CLEANROOM_TEST_SLOW_SECONDS="600") as doomed:
        audits_request(asset_ids=[photo])
        wait_until(lambda: marker.exists() and any(marker.iterdir()), timeout=90, explain=doomed.log)
        doomed.kill()
    assert queued_messages("audit") == []  # the embedded broker lost the message with its worker
    assert (slow.get().status, slow.get().attempts) == ("running", 1)

    took = reconcile_until(lambda: slow.get().status != "running", timeout=60)

    print(f"audit sent again {took:.1f} s after its worker was killed (heartbeat timeout {HEARTBEAT_TIMEOUT} s)")
    assert slow.get().status == "queued" and len(queued_messages("audit")) == 1
    with celery_worker(tmp_path, "audit", **env, CLEANROOM_TEST_SLOW_SECONDS="0") as survivor:
        wait_until(lambda: Asset.objects.get(pk=photo).status == AssetStatus.CLEAR, timeout=90, explain=survivor.log)
    assert sorted(AuditRun.objects.filter(asset_id=photo).values_list("auditor", "status", "attempts")) == [
        ("slow", "done", 2),  # the dead attempt counted
        ("synthetic", "done", 1),
    ]


def test_an_auditor_failing_every_attempt_is_given_up_and_its_asset_is_no_longer_sent_again(
    photo, tmp_path, settings, reviewer, client_for
):
    settings.CLEANROOM_AUDITORS = [SYNTHETIC, BROKEN]
    broken = AuditRun.objects.filter(asset_id=photo, auditor="broken")
    auditors = f"{SYNTHETIC},{BROKEN}"
    with celery_worker(tmp_path, "audit", CLEANROOM_AUDITORS=auditors, CLEANROOM_AUDIT_MAX_ATTEMPTS="3") as worker:
        audits_request(asset_ids=[photo])
        for attempt in (1, 2):
            wait_until(lambda n=attempt: broken.filter(status="failed", attempts=n).exists(), timeout=90, explain=worker.log)
            assert Asset.objects.get(pk=photo).status == AssetStatus.AUDITING
            later = timezone.now() + timedelta(seconds=901)
            assert reconcile(kinds=["audits"], now=later) == {"audits": {"resent": [photo], "lost": []}}
        wait_until(lambda: Asset.objects.get(pk=photo).status == AssetStatus.FLAGGED, timeout=90, explain=worker.log)

    assert reconcile(kinds=["audits"], now=timezone.now() + timedelta(days=1)) == {"audits": {"resent": [], "lost": []}}
    assert queued_messages("audit") == []
    assert (broken.get().status, broken.get().attempts) == ("abandoned", 3)
    [finding] = client_for(reviewer).get(f"/api/v1/assets/{photo}/findings/?status=open").json()["results"]
    assert (finding["auditor"], finding["code"], finding["details"]["attempts"]) == ("broken", "auditor_failed", 3)
    assert finding["details"]["error"].startswith("ValueError: cannot read image")
