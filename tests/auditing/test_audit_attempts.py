"""An auditor that keeps failing on an asset is given up after CLEANROOM_AUDIT_MAX_ATTEMPTS
attempts: the asset is concluded `flagged` with an `auditor_failed` finding for a reviewer,
instead of being sent again by the reconciler for ever. The worker side is driven through the
services a task calls; tests/auditing/test_reconcile.py runs the same story on a real worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from auditing.models import AuditRun, Finding
from auditing.services import asset_audit_run, audits_request, finding_resolve
from core.audit import auditlog_verify
from core.models import AuditEvent, EventType
from core.reconcile import reconcile
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset, AssetStatus
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from tests.auditing.factories import SYNTHETIC_AUDITOR, SYNTHETIC_XMP
from tests.provenance.factories import image_bytes, write_consent

pytestmark = pytest.mark.django_db
BROKEN = "tests.auditing.auditors.BrokenAuditor"


@pytest.fixture
def photo(contributor, tmp_path, settings) -> str:
    settings.CLEANROOM_AUDITORS = [SYNTHETIC_AUDITOR, BROKEN]
    dataset_create(slug="faces", scopes=["ai_training"])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "generated.jpg").write_bytes(image_bytes(5, xmp=SYNTHETIC_XMP))
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])
    result = IngestResultSerializer(
        ingest_paths(
            paths=[str(tmp_path / "in")], dataset_slug="faces", contributor_email="carla@example.com", consent_path=str(consent)
        )
    ).data
    asset_id = result["accepted"][0]["asset_id"]
    with transaction.atomic():
        audits_request(asset_ids=[asset_id])
    return asset_id


def reconcile_later(django_capture_on_commit_callbacks) -> list[str]:
    """One reconciler pass as beat runs it once the audit deadline has passed; the ids sent again."""
    with django_capture_on_commit_callbacks(execute=False):
        report = reconcile(kinds=["audits"], now=timezone.now() + timedelta(seconds=901))
    return report["audits"]["resent"]


def broken_run(asset_id: str) -> AuditRun:
    return AuditRun.objects.get(asset_id=asset_id, auditor="broken")


def test_an_auditor_failing_on_every_attempt_flags_the_asset_with_an_auditor_failed_finding(
    photo, django_capture_on_commit_callbacks, reviewer, client_for
):
    assert asset_audit_run(asset_id=photo, task_id="attempt-1") == AssetStatus.AUDITING
    assert (broken_run(photo).status, broken_run(photo).attempts, broken_run(photo).heartbeat_at) == ("failed", 1, None)
    assert reconcile_later(django_capture_on_commit_callbacks) == [photo]
    assert asset_audit_run(asset_id=photo, task_id="attempt-2") == AssetStatus.AUDITING
    assert reconcile_later(django_capture_on_commit_callbacks) == [photo]

    assert asset_audit_run(asset_id=photo, task_id="attempt-3") == AssetStatus.FLAGGED

    assert reconcile_later(django_capture_on_commit_callbacks) == []  # nothing left to send
    run = broken_run(photo)
    assert (run.status, run.attempts) == ("abandoned", 3)
    failed = Finding.objects.get(asset_id=photo, code="auditor_failed")
    assert (failed.auditor, failed.auditor_version, failed.run_id, failed.status) == ("broken", "1", run.pk, "open")
    assert failed.details["attempts"] == 3
    assert failed.details["error"].startswith("ValueError: cannot read image")
    assert "broken auditor failed 3 times" in failed.details["summary"]
    # The other auditor's verdict stands beside it.
    assert Finding.objects.filter(asset_id=photo, code="synthetic.trained_algorithmic_media").count() == 1
    # In the review queue like any finding.
    queue = client_for(reviewer).get("/api/v1/findings/?status=open&auditor=broken").json()["results"]
    assert [(row["id"], row["code"], row["asset_status"]) for row in queue] == [(str(failed.pk), "auditor_failed", "flagged")]
    # And in the audit log, beside the asset's move to flagged.
    [given_up] = AuditEvent.objects.filter(
        event_type=EventType.AUDIT_RUN_FINISHED, subject_id=photo, details__auditor="broken"
    ).values_list("details", flat=True)
    assert (given_up["findings"], given_up["attempts"], given_up["outcome"]) == (["auditor_failed"], 3, "abandoned")
    assert given_up["error"] == failed.details["error"]
    assert auditlog_verify().valid


def test_a_reviewer_decides_an_asset_whose_auditor_gave_up(photo, settings, reviewer):
    settings.CLEANROOM_AUDIT_MAX_ATTEMPTS = 1
    assert asset_audit_run(asset_id=photo, task_id="only") == AssetStatus.FLAGGED
    for finding in Finding.objects.filter(asset_id=photo):
        finding_resolve(finding_id=str(finding.pk), reviewer=reviewer, decision="dismiss", reason="looked at it myself")

    assert Asset.objects.get(pk=photo).status == AssetStatus.CLEAR
    # Settled: the same auditor version is not tried again on a later request.
    assert audits_request(asset_ids=[photo]) == []


def test_a_run_whose_worker_died_on_its_last_attempt_is_given_up_when_its_message_comes_back(photo, settings):
    settings.CLEANROOM_AUDITORS = [BROKEN]
    # Three workers took the run and died with it (a crash inside native code); the broker
    # delivers the last one's message again.
    AuditRun.objects.create(asset_id=photo, auditor="broken", auditor_version="1", status="running", task_id="t3", attempts=3)

    assert asset_audit_run(asset_id=photo, task_id="t3") == AssetStatus.FLAGGED

    failed = Finding.objects.get(asset_id=photo, code="auditor_failed")
    assert failed.details["attempts"] == 3 and "stopped" in failed.details["error"]


def test_a_run_held_by_a_live_worker_on_its_last_attempt_is_left_to_it(photo, settings):
    settings.CLEANROOM_AUDITORS = [BROKEN]
    AuditRun.objects.create(asset_id=photo, auditor="broken", auditor_version="1", status="running", task_id="live", attempts=3)

    assert asset_audit_run(asset_id=photo, task_id="copy") == "claimed_elsewhere"
    assert not Finding.objects.filter(asset_id=photo).exists()


def test_a_run_whose_heartbeat_stopped_on_its_last_attempt_is_sent_again_at_once_and_given_up(
    photo, settings, django_capture_on_commit_callbacks
):
    settings.CLEANROOM_AUDITORS = [BROKEN]
    # Its third worker died with it: it has not beaten for a minute, well before any deadline.
    silent_since = timezone.now() - timedelta(seconds=60)
    AuditRun.objects.create(
        asset_id=photo, auditor="broken", auditor_version="1", status="running", task_id="t3", attempts=3,
        started_at=silent_since, heartbeat_at=silent_since,
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert reconcile(kinds=["audits"]) == {"audits": {"resent": [photo], "lost": []}}
    assert len(sent) == 1
    assert (broken_run(photo).status, broken_run(photo).task_id, broken_run(photo).heartbeat_at) == ("queued", "", None)

    assert asset_audit_run(asset_id=photo, task_id="t4") == AssetStatus.FLAGGED
    failed = Finding.objects.get(asset_id=photo, code="auditor_failed")
    assert failed.details["attempts"] == 3 and "stopped" in failed.details["error"]


def test_a_run_whose_worker_still_beats_is_left_to_it_even_when_its_asset_is_sent_again(
    photo, settings, django_capture_on_commit_callbacks
):
    settings.CLEANROOM_AUDITORS = [BROKEN]
    later = timezone.now() + timedelta(seconds=901)
    # Started long before the deadline, and beating still at the time of the pass.
    AuditRun.objects.create(
        asset_id=photo, auditor="broken", auditor_version="1", status="running", task_id="live", attempts=1,
        started_at=timezone.now(), heartbeat_at=later,
    )  # fmt: skip

    assert reconcile_later(django_capture_on_commit_callbacks) == [photo]

    assert (broken_run(photo).status, broken_run(photo).task_id) == ("running", "live")
    assert asset_audit_run(asset_id=photo, task_id="copy") == "claimed_elsewhere"
