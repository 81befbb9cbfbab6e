"""The NSFW sanity policy in the pipeline: turning it on is a new auditor version, so every
asset is audited again, and the re-audit's verdict replaces the old version's: a colour wheel
that raw NudeNet flagged ends up clear, its old finding superseded."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from auditing.auditors.nsfw import NsfwAuditor
from auditing.evaluation.nsfw import evaluation_set
from auditing.models import AuditRun, Finding, FindingStatus
from auditing.services import asset_audit_run, audits_request, finding_resolve
from core.models import AuditEvent, EventType
from provenance.models import Asset, AssetStatus
from tests.provenance.factories import ingest

pytestmark = pytest.mark.django_db
NSFW_AUDITOR = "auditing.auditors.nsfw.NsfwAuditor"


def colour_wheel_png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    next(item.image for item in evaluation_set(per_category={"abstract": 1})).save(buffer, "PNG")
    return SimpleUploadedFile("wheel.png", buffer.getvalue(), "image/png")


@pytest.fixture
def flagged_by_raw_nudenet(settings, contributor, world) -> str:
    """A colour wheel audited by NudeNet without the policy: flagged, one open finding."""
    settings.CLEANROOM_AUDITORS = [NSFW_AUDITOR]
    settings.CLEANROOM_NSFW = {"BACKEND": "nudenet", "SANITY": False}
    asset_id = ingest(contributor, world.dataset, world.consent, colour_wheel_png())["accepted"][0]["asset_id"]
    audits_request(asset_ids=[asset_id])
    assert asset_audit_run(asset_id=asset_id, task_id="raw") == AssetStatus.FLAGGED
    return asset_id


def test_turning_the_policy_on_reaudits_and_clears_the_old_false_positive(settings, flagged_by_raw_nudenet) -> None:
    asset_id = flagged_by_raw_nudenet
    (old,) = Finding.objects.filter(asset_id=asset_id)
    assert old.code == "nsfw.nudenet" and old.details["labels"][0]["label"] == "BUTTOCKS_EXPOSED"
    raw_version = NsfwAuditor().version

    settings.CLEANROOM_NSFW = {"BACKEND": "nudenet"}

    assert NsfwAuditor().version != raw_version and NsfwAuditor().version.endswith("/skin1")
    assert audits_request(asset_ids=[asset_id]) == [asset_id]
    assert asset_audit_run(asset_id=asset_id, task_id="policy") == AssetStatus.CLEAR
    assert Asset.objects.get(pk=asset_id).status == AssetStatus.CLEAR
    new_run = AuditRun.objects.get(asset_id=asset_id, auditor_version=NsfwAuditor().version)
    assert new_run.status == "done" and not new_run.findings.exists()
    old.refresh_from_db()
    assert old.status == FindingStatus.SUPERSEDED and old.resolved_by is None
    assert old.resolution_reason == f"re-audited by nsfw version {NsfwAuditor().version}"
    event = AuditEvent.objects.filter(event_type=EventType.AUDIT_RUN_FINISHED, subject_id=asset_id).order_by("seq").last()
    assert event.details["superseded"] == [{"finding_id": str(old.pk), "code": "nsfw.nudenet", "version": raw_version}]


def test_a_reaudit_by_the_same_version_changes_nothing(flagged_by_raw_nudenet) -> None:
    assert audits_request(asset_ids=[flagged_by_raw_nudenet]) == []
    assert Finding.objects.get(asset_id=flagged_by_raw_nudenet).status == FindingStatus.OPEN


def test_a_reviewers_decision_on_an_old_finding_is_history_and_stays(settings, flagged_by_raw_nudenet, reviewer) -> None:
    old = Finding.objects.get(asset_id=flagged_by_raw_nudenet)
    finding_resolve(finding_id=str(old.pk), reviewer=reviewer, decision="dismiss", reason="a colour wheel")
    settings.CLEANROOM_NSFW = {"BACKEND": "nudenet"}

    audits_request(asset_ids=[flagged_by_raw_nudenet])
    asset_audit_run(asset_id=flagged_by_raw_nudenet, task_id="policy")

    old.refresh_from_db()
    assert old.resolved_by is not None and old.resolution_reason == "a colour wheel"
