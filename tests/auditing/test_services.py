"""The audit pipeline's services, called directly (the worker tests prove the Celery side)."""

from __future__ import annotations

import pytest
from django.db import transaction

from auditing.models import AuditRun, Finding
from auditing.services import asset_audit_run, audits_reconcile, audits_request, finding_resolve
from core.audit import audit_events, auditlog_verify
from core.exceptions import ApplicationError, PermissionDenied
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from provenance.services.snapshots import snapshot_create
from tests.auditing.factories import SYNTHETIC_XMP
from tests.provenance.factories import image_bytes, write_consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def assets(contributor, tmp_path, settings):
    settings.CLEANROOM_AUDITORS = ["auditing.auditors.synthetic.SyntheticAuditor"]
    dataset_create(slug="faces", scopes=["ai_training"])
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "camera.jpg").write_bytes(image_bytes(1))
    (folder / "generated.jpg").write_bytes(image_bytes(2, xmp=SYNTHETIC_XMP))
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])
    result = IngestResultSerializer(
        ingest_paths(paths=[str(folder)], dataset_slug="faces", contributor_email="carla@example.com", consent_path=str(consent))
    ).data
    return {row["path"].rsplit("/", 1)[-1]: row["asset_id"] for row in result["accepted"]}


def audit(asset_id: str) -> str:
    with transaction.atomic():
        audits_request(asset_ids=[asset_id])
    return asset_audit_run(asset_id=asset_id, task_id="task-1")


def test_a_plain_photo_is_audited_clear(assets):
    assert audit(assets["camera.jpg"]) == "clear"
    assert Asset.objects.get(pk=assets["camera.jpg"]).status == "clear"


def test_an_image_declared_as_generated_is_flagged_with_a_finding(assets):
    assert audit(assets["generated.jpg"]) == "flagged"
    finding = Finding.objects.get(asset_id=assets["generated.jpg"])
    assert (finding.auditor, finding.code) == ("synthetic", "synthetic.trained_algorithmic_media")
    assert finding.details["digital_source_type"].endswith("trainedAlgorithmicMedia")


def test_re_running_the_same_auditor_version_is_a_no_op(assets):
    audit(assets["camera.jpg"])
    assert audits_request(asset_ids=[assets["camera.jpg"]]) == []
    assert AuditRun.objects.filter(asset_id=assets["camera.jpg"]).count() == 1


def test_a_new_auditor_version_re_audits(assets, settings):
    audit(assets["camera.jpg"])
    settings.CLEANROOM_AUDITORS = ["tests.auditing.auditors.SyntheticAuditorV2"]
    assert audits_request(asset_ids=[assets["camera.jpg"]]) == [assets["camera.jpg"]]
    assert asset_audit_run(asset_id=assets["camera.jpg"], task_id="task-2") == "clear"
    assert sorted(AuditRun.objects.values_list("auditor_version", flat=True)) == ["1", "2"]


def test_a_new_version_that_no_longer_finds_it_supersedes_the_old_open_finding_and_clears_the_image(assets, settings):
    assert audit(assets["generated.jpg"]) == "flagged"
    old = Finding.objects.get(asset_id=assets["generated.jpg"])
    settings.CLEANROOM_AUDITORS = ["tests.auditing.auditors.SyntheticAuditorFixed"]

    assert audit(assets["generated.jpg"]) == "clear"

    old.refresh_from_db()
    assert old.status == "superseded" and old.resolved_by is None
    assert old.resolution_reason == "re-audited by synthetic version fixed"
    event = audit_events(subject_id=assets["generated.jpg"], event_type="audit.run_finished").last()
    assert event.details["superseded"] == [{"finding_id": str(old.pk), "code": old.code, "version": "1"}]
    assert auditlog_verify().valid


def test_a_new_version_that_finds_it_again_replaces_the_old_finding_with_its_own(assets, settings):
    audit(assets["generated.jpg"])
    settings.CLEANROOM_AUDITORS = ["tests.auditing.auditors.SyntheticAuditorV2"]

    assert audit(assets["generated.jpg"]) == "flagged"

    by_version = dict(Finding.objects.filter(asset_id=assets["generated.jpg"]).values_list("auditor_version", "status"))
    assert by_version == {"1": "superseded", "2": "open"}


def test_a_re_audit_leaves_a_reviewers_decision_as_it_was(assets, settings, reviewer):
    audit(assets["generated.jpg"])
    decided = Finding.objects.get(asset_id=assets["generated.jpg"])
    finding_resolve(finding_id=str(decided.pk), reviewer=reviewer, decision="dismiss", reason="our own render, licensed")
    settings.CLEANROOM_AUDITORS = ["tests.auditing.auditors.SyntheticAuditorFixed"]

    assert audit(assets["generated.jpg"]) == "clear"

    decided.refresh_from_db()
    assert (decided.status, decided.resolution_reason) == ("dismissed", "our own render, licensed")


def test_a_run_held_by_another_worker_is_not_taken(assets):
    with transaction.atomic():
        audits_request(asset_ids=[assets["camera.jpg"]])
    AuditRun.objects.create(
        asset_id=assets["camera.jpg"], auditor="synthetic", auditor_version="1", status="running", task_id="other"
    )
    assert asset_audit_run(asset_id=assets["camera.jpg"], task_id="mine") == "claimed_elsewhere"
    # The same message redelivered after its worker died takes its own run back.
    assert asset_audit_run(asset_id=assets["camera.jpg"], task_id="other") == "clear"


def test_dismissing_every_finding_clears_the_asset(assets, reviewer):
    audit(assets["generated.jpg"])
    finding = Finding.objects.get()
    finding_resolve(
        finding_id=str(finding.pk), reviewer=reviewer, decision="dismiss", reason="a scan of a painting, not generated"
    )
    assert Asset.objects.get(pk=assets["generated.jpg"]).status == "clear"
    with pytest.raises(ApplicationError) as again:
        finding_resolve(finding_id=str(finding.pk), reviewer=reviewer, decision="confirm", reason="x")
    assert again.value.code == "already_resolved"


def test_confirming_a_finding_rejects_the_asset(assets, reviewer):
    audit(assets["generated.jpg"])
    finding_resolve(finding_id=str(Finding.objects.get().pk), reviewer=reviewer, decision="confirm", reason="generated")
    assert Asset.objects.get(pk=assets["generated.jpg"]).status == "rejected"
    assert auditlog_verify().valid


def test_only_reviewers_resolve_findings(assets, ml_engineer):
    audit(assets["generated.jpg"])
    with pytest.raises(PermissionDenied):
        finding_resolve(finding_id=str(Finding.objects.get().pk), reviewer=ml_engineer, decision="dismiss", reason="x")


def test_a_snapshot_excludes_the_flagged_asset_and_keeps_the_clear_one(assets, ml_engineer):
    audit(assets["camera.jpg"])
    audit(assets["generated.jpg"])
    snapshot = snapshot_create(dataset_slug="faces", actor=ml_engineer)
    assert snapshot.asset_count == 1
    assert [(str(e.asset_id), e.reason, e.detail) for e in snapshot.exclusions.all()] == [
        (assets["generated.jpg"], "flagged", "asset is flagged")
    ]


def test_the_reconciler_re_enqueues_assets_left_auditing(assets, django_capture_on_commit_callbacks):
    from datetime import timedelta

    with transaction.atomic():
        audits_request(asset_ids=[assets["camera.jpg"]])
    AuditRun.objects.create(
        asset_id=assets["camera.jpg"], auditor="synthetic", auditor_version="1", status="running", task_id="dead"
    )
    Asset.objects.filter(pk=assets["camera.jpg"]).update(status_changed_at="2020-01-01T00:00:00Z")
    AuditRun.objects.filter(task_id="dead").update(started_at="2020-01-01T00:00:00Z")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert audits_reconcile(older_than=timedelta(minutes=5)) == [assets["camera.jpg"]]
    assert len(callbacks) == 1
    assert AuditRun.objects.get(task_id="").status == "queued"
    assert asset_audit_run(asset_id=assets["camera.jpg"], task_id="fresh") == "clear"
