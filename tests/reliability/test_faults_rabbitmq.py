"""Audits of a batch of 20 assets on a private RabbitMQ node, with real workers:

- a worker SIGKILLed mid-audit: RabbitMQ hands its unacknowledged message (acks_late) to a fresh
  worker, which takes back its own run (an auditor is safe to repeat) and finishes it: no
  reconciler pass is needed, the dead attempt is counted, nothing is recorded twice;
- the node itself restarted mid-batch (stopped and started again, as a broker upgrade or a
  crashed node): the worker reconnects, the persistent messages of the durable queue survive, a
  message whose acknowledgement was cut off comes back and steps aside (its asset is settled),
  and every asset is settled once.
"""

from __future__ import annotations

import time

import pytest

from auditing.models import AuditRun
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset, AssetStatus
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from tests.provenance.factories import image_bytes, write_consent
from tests.support.reliability import audit_events, report
from tests.workers import celery_worker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SYNTHETIC = "auditing.auditors.synthetic.SyntheticAuditor"
SLOW = "tests.auditing.auditors.SlowAuditor"
AUDITORS = ["synthetic", "slow"]
BATCH = 20
SETTLED = {AssetStatus.CLEAR, AssetStatus.FLAGGED}
RECOVERY_BOUND_SECONDS = 90


@pytest.fixture
def batch(contributor, tmp_path, settings) -> list[str]:
    """20 ingested photos whose audits are queued on RabbitMQ when the test begins."""
    settings.CLEANROOM_AUDITORS = [SYNTHETIC, SLOW]
    settings.CLEANROOM_AUDIT_ON_INGEST = True
    dataset_create(slug="faces", scopes=["ai_training"])
    (tmp_path / "in").mkdir()
    for i in range(BATCH):
        (tmp_path / "in" / f"photo-{i:02}.jpg").write_bytes(image_bytes(i))
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])
    result = IngestResultSerializer(
        ingest_paths(
            paths=[str(tmp_path / "in")], dataset_slug="faces", contributor_email="carla@example.com", consent_path=str(consent)
        )
    ).data
    assert not result["refused"]
    return [item["asset_id"] for item in result["accepted"]]


def settled(asset_ids: list[str]) -> int:
    return Asset.objects.filter(pk__in=asset_ids, status__in=SETTLED).count()


def started(marker) -> int:
    return len(list(marker.iterdir())) if marker.exists() else 0


def test_a_worker_killed_mid_audit_hands_its_message_to_a_fresh_worker_which_finishes_the_batch(on_rabbit, batch, tmp_path):
    marker = tmp_path / "lingering"
    env = {"CELERY_BROKER_URL": on_rabbit.url, "CLEANROOM_AUDITORS": f"{SYNTHETIC},{SLOW}",
           "CLEANROOM_TEST_SLOW_MARKER": str(marker)}  # fmt: skip
    with celery_worker(tmp_path, "audit", **env, CLEANROOM_TEST_SLOW_SECONDS="1") as doomed:
        # Kill just after the fifth slow audit began: a second of it is still ahead.
        wait_until(lambda: started(marker) >= 5, timeout=120, explain=doomed.log, every=0.02)
        doomed.kill()
    killed_at = time.monotonic()
    [interrupted] = AuditRun.objects.filter(asset_id__in=batch, status="running")
    assert interrupted.auditor == "slow" and settled(batch) < BATCH

    with celery_worker(tmp_path, "audit", **env, CLEANROOM_TEST_SLOW_SECONDS="0") as fresh:
        wait_until(lambda: settled(batch) == BATCH, timeout=RECOVERY_BOUND_SECONDS, explain=fresh.log)
    took = time.monotonic() - killed_at

    interrupted.refresh_from_db()
    counted = audit_events(batch, AUDITORS)
    print(f"audit batch settled {took:.1f} s after its worker was killed; {counted.summary()}")
    report("worker_killed_mid_audit", recovery_seconds=took, bound=RECOVERY_BOUND_SECONDS, counted=counted, assets=BATCH)
    assert (interrupted.status, interrupted.attempts) == ("done", 2)
    assert (counted.lost, counted.duplicated, counted.chain_valid) == (0, 0, True)
    assert not AuditRun.objects.filter(asset_id__in=batch).exclude(status="done").exists()


def test_a_rabbitmq_restart_mid_batch_loses_no_audit_and_runs_none_twice(on_rabbit, batch, tmp_path):
    marker = tmp_path / "lingering"
    env = {"CELERY_BROKER_URL": on_rabbit.url, "CLEANROOM_AUDITORS": f"{SYNTHETIC},{SLOW}",
           "CLEANROOM_TEST_SLOW_MARKER": str(marker), "CLEANROOM_TEST_SLOW_SECONDS": "0.5"}  # fmt: skip
    with celery_worker(tmp_path, "audit", **env) as worker:
        wait_until(lambda: started(marker) >= 5, timeout=120, explain=worker.log, every=0.02)
        began = time.monotonic()
        outage = on_rabbit.restart()
        wait_until(lambda: settled(batch) == BATCH, timeout=RECOVERY_BOUND_SECONDS, explain=worker.log)
        took = time.monotonic() - began
        log = worker.log()

    counted = audit_events(batch, AUDITORS)
    print(f"RabbitMQ restart took {outage:.1f} s; batch settled {took:.1f} s after it began; {counted.summary()}")
    report("rabbitmq_restart", recovery_seconds=took, bound=RECOVERY_BOUND_SECONDS, counted=counted, restart_seconds=outage,
           node_start_seconds=on_rabbit.started_in)  # fmt: skip
    assert (counted.lost, counted.duplicated, counted.chain_valid) == (0, 0, True)
    assert not AuditRun.objects.filter(asset_id__in=batch).exclude(status="done").exists()
    assert "Connection to broker lost" in log or "consumer: Cannot connect" in log, log
