"""Bulk decisions (auditing.services.bulk_decisions): every open finding matching the queue's
filters decided at once, one audit event each, the images' status following; held and
already-decided findings skipped; the set fixed at the count the reviewer confirmed; the work
done in batches."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from auditing.models import Finding, FindingStatus
from auditing.selectors import ReviewFilters
from auditing.services import asset_audit_run, audits_request, finding_resolve
from auditing.services.bulk_decisions import (
    BulkDecisionPlan,
    bulk_decision_plan,
    bulk_decision_run,
    bulk_decision_scope,
)
from auditing.services.claims import asset_claim
from core.audit import audit_events, auditlog_verify
from core.exceptions import ApplicationError, PermissionDenied
from core.models import EventType
from provenance.models import Asset, AssetStatus
from tests.auditing.factories import SYNTHETIC_AUDITOR, flagged_finding, generated_jpeg
from tests.provenance.factories import ingest

pytestmark = pytest.mark.django_db

REASON = "Scans of printed photographs, not generated"
# Flags every image it sees: with the synthetic auditor, a generated image gets two findings.
EVERY_IMAGE_AUDITOR = "tests.auditing.auditors.WorkingCopyAuditor"


@pytest.fixture
def three(world, contributor, settings) -> list[Finding]:
    return [flagged_finding(settings, contributor, world.dataset, world.consent, seed=seed) for seed in (71, 72, 73)]


def twice_flagged(settings, world, contributor, seed: int) -> list[Finding]:
    """An image flagged by two auditors: one open finding each (synthetic, working_copy)."""
    settings.CLEANROOM_AUDITORS = [SYNTHETIC_AUDITOR, EVERY_IMAGE_AUDITOR]
    result = ingest(contributor, world.dataset, world.consent, generated_jpeg(f"twice-{seed}.jpg", seed))
    asset_id = result["accepted"][0]["asset_id"]
    audits_request(asset_ids=[asset_id])
    assert asset_audit_run(asset_id=asset_id, task_id=f"test-twice-{seed}") == "flagged"
    return list(Finding.objects.filter(asset_id=asset_id).order_by("auditor"))


def decide_all(reviewer, filters=None, decision="dismiss", reason=REASON, **run):
    filters = filters or ReviewFilters()
    seen = bulk_decision_scope(reviewer=reviewer, filters=filters).findings
    plan = bulk_decision_plan(reviewer=reviewer, filters=filters, decision=decision, reason=reason, seen_count=seen)
    return bulk_decision_run(reviewer=reviewer, plan=plan, **run)


def resolved_events() -> int:
    return audit_events(event_type=EventType.FINDING_RESOLVED).count()


def statuses(findings: list[Finding]) -> list[str]:
    return [Finding.objects.get(pk=finding.pk).status for finding in findings]


def test_dismissing_every_match_records_one_event_per_finding_and_clears_the_images(three, reviewer):
    scope = bulk_decision_scope(reviewer=reviewer, filters=ReviewFilters())
    assert (scope.findings, scope.images, scope.held) == (3, 3, {})

    outcome = decide_all(reviewer)

    assert (outcome.decided, outcome.held, outcome.gone) == (3, {}, 0)
    for finding in Finding.objects.filter(pk__in=[f.pk for f in three]):
        assert finding.status == FindingStatus.DISMISSED
        assert finding.resolved_by == reviewer and finding.resolution_reason == REASON and finding.resolved_at
    events = list(audit_events(event_type=EventType.FINDING_RESOLVED))
    assert sorted(event.subject_id for event in events) == sorted(str(f.pk) for f in three)
    assert {(event.actor, event.details["decision"], event.details["reason"]) for event in events} == {
        ("rita", "dismiss", REASON)
    }
    # Each decision keeps the digest of the evidence it was made on (the decisions CSV's column).
    evidence = {str(f.pk): f.evidence_sha256 for f in Finding.objects.filter(pk__in=[f.pk for f in three])}
    assert {event.subject_id: event.details["evidence_sha256"] for event in events} == evidence
    assert len(set(evidence.values())) == 3
    assert set(Asset.objects.filter(pk__in=[f.asset_id for f in three]).values_list("status", flat=True)) == {AssetStatus.CLEAR}
    assert auditlog_verify().valid


def test_confirming_rejects_each_image_once_however_many_of_its_findings_match(world, contributor, settings, reviewer):
    findings = twice_flagged(settings, world, contributor, seed=74)

    outcome = decide_all(reviewer, decision="confirm", reason="Generated: must not be trained on")

    assert outcome.decided == 2 and statuses(findings) == [FindingStatus.CONFIRMED] * 2
    asset_id = str(findings[0].asset_id)
    assert Asset.objects.get(pk=asset_id).status == AssetStatus.REJECTED
    assert audit_events(event_type=EventType.ASSET_REVIEWED, subject_id=asset_id).count() == 1


def test_dismissing_some_of_an_images_findings_leaves_it_flagged(world, contributor, settings, reviewer):
    synthetic, working_copy = twice_flagged(settings, world, contributor, seed=75)

    outcome = decide_all(reviewer, filters=ReviewFilters(auditor="synthetic"))

    assert outcome.decided == 1
    assert statuses([synthetic, working_copy]) == [FindingStatus.DISMISSED, FindingStatus.OPEN]
    assert Asset.objects.get(pk=synthetic.asset_id).status == AssetStatus.FLAGGED


def test_findings_on_an_image_another_reviewer_holds_are_skipped_and_counted(three, reviewer, second_reviewer):
    asset_claim(asset_id=three[1].asset_id, reviewer=second_reviewer)
    asset_claim(asset_id=three[2].asset_id, reviewer=reviewer)  # the reviewer's own hold is no obstacle
    assert bulk_decision_scope(reviewer=reviewer, filters=ReviewFilters()).held == {"ravi": 1}

    outcome = decide_all(reviewer)

    assert (outcome.decided, outcome.held, outcome.gone) == (2, {"ravi": 1}, 0)
    assert statuses(three) == [FindingStatus.DISMISSED, FindingStatus.OPEN, FindingStatus.DISMISSED]
    assert outcome.to_result()["held"] == [("ravi", 1)]


def test_a_finding_decided_meanwhile_is_skipped_and_keeps_its_decision(three, reviewer, second_reviewer):
    plan = bulk_decision_plan(reviewer=reviewer, filters=ReviewFilters(), decision="dismiss", reason=REASON, seen_count=3)
    finding_resolve(finding_id=str(three[0].pk), reviewer=second_reviewer, decision="confirm", reason="generated")

    outcome = bulk_decision_run(reviewer=reviewer, plan=plan)

    assert (outcome.decided, outcome.gone) == (2, 1)
    first = Finding.objects.get(pk=three[0].pk)
    assert first.status == FindingStatus.CONFIRMED and first.resolved_by == second_reviewer
    assert resolved_events() == 3


def test_a_count_that_no_longer_matches_is_refused_with_the_new_one_and_changes_nothing(three, reviewer):
    before = audit_events().count()

    with pytest.raises(ApplicationError) as refused:
        bulk_decision_plan(reviewer=reviewer, filters=ReviewFilters(), decision="dismiss", reason=REASON, seen_count=2)

    assert refused.value.code == "matches_changed" and refused.value.status == 409
    assert refused.value.extra == {"findings": 3, "images": 3}
    assert "3 findings on 3 images match now, not the 2 you were shown" in refused.value.message
    assert statuses(three) == [FindingStatus.OPEN] * 3 and audit_events().count() == before


def test_findings_that_arrive_after_the_confirmation_are_not_decided(three, world, contributor, settings, reviewer):
    plan = bulk_decision_plan(reviewer=reviewer, filters=ReviewFilters(), decision="dismiss", reason=REASON, seen_count=3)
    late = flagged_finding(settings, contributor, world.dataset, world.consent, seed=76)

    outcome = bulk_decision_run(reviewer=reviewer, plan=plan)

    assert outcome.decided == 3 and statuses([late]) == [FindingStatus.OPEN]


def test_a_run_never_decides_more_than_the_confirmed_count(three, reviewer):
    plan = BulkDecisionPlan(filters=ReviewFilters(), decision="dismiss", reason=REASON, count=2, fixed_at=timezone.now())

    with pytest.raises(ApplicationError) as refused:
        bulk_decision_run(reviewer=reviewer, plan=plan)

    assert refused.value.code == "matches_changed" and "than the 2 you confirmed" in refused.value.message
    assert statuses(three) == [FindingStatus.OPEN] * 3


def test_the_work_is_done_in_batches_each_recorded_before_the_next(world, contributor, settings, reviewer):
    findings = [flagged_finding(settings, contributor, world.dataset, world.consent, seed=seed) for seed in range(80, 85)]
    seen = []

    def progress(done: int, total: int | None) -> None:
        seen.append((done, total, Finding.objects.filter(status=FindingStatus.DISMISSED).count()))

    outcome = decide_all(reviewer, progress=progress, batch_size=2)

    assert outcome.decided == 5 and statuses(findings) == [FindingStatus.DISMISSED] * 5
    assert seen == [(2, 5, 2), (4, 5, 4), (5, 5, 5)]


@pytest.mark.parametrize(
    ("decision", "reason", "code"),
    [("dismiss", "   ", "reason_required"), ("delete", REASON, "invalid_decision")],
)
def test_a_decision_without_a_reason_or_of_another_kind_is_refused(three, reviewer, decision, reason, code):
    with pytest.raises(ApplicationError) as refused:
        bulk_decision_plan(reviewer=reviewer, filters=ReviewFilters(), decision=decision, reason=reason, seen_count=3)
    assert refused.value.code == code


def test_only_a_reviewer_may_decide_in_bulk(three, ml_engineer, reviewer):
    with pytest.raises(PermissionDenied):
        bulk_decision_plan(reviewer=ml_engineer, filters=ReviewFilters(), decision="dismiss", reason=REASON, seen_count=0)
    plan = bulk_decision_plan(reviewer=reviewer, filters=ReviewFilters(), decision="dismiss", reason=REASON, seen_count=3)
    with pytest.raises(PermissionDenied):
        bulk_decision_run(reviewer=ml_engineer, plan=plan)
    assert statuses(three) == [FindingStatus.OPEN] * 3


def test_an_empty_match_set_is_refused(three, reviewer):
    with pytest.raises(ApplicationError) as refused:
        bulk_decision_plan(
            reviewer=reviewer, filters=ReviewFilters(auditor="pii"), decision="dismiss", reason=REASON, seen_count=0
        )
    assert refused.value.code == "nothing_to_decide"


def test_a_plan_survives_the_trip_through_a_jobs_json_params(reviewer, three):
    filters = ReviewFilters(
        auditor="synthetic",
        code="synthetic.declared",
        dataset="faces",
        contributor="carla@example.com",
        since=timezone.now().replace(microsecond=0),
        min_score=0.25,
        max_score=1.0,
    )
    plan = BulkDecisionPlan(filters=filters, decision="confirm", reason=REASON, count=3, fixed_at=timezone.now())

    assert BulkDecisionPlan.from_params(json.loads(json.dumps(plan.to_params()))) == plan


def test_a_second_confirmed_finding_on_a_rejected_image_is_recorded(world, contributor, settings, reviewer):
    """Single and bulk decisions share one rule: the image is rejected once, and stays so."""
    first, second = twice_flagged(settings, world, contributor, seed=77)
    finding_resolve(finding_id=str(first.pk), reviewer=reviewer, decision="confirm", reason="generated")

    finding_resolve(finding_id=str(second.pk), reviewer=reviewer, decision="confirm", reason="generated too")

    assert statuses([first, second]) == [FindingStatus.CONFIRMED] * 2
    assert Asset.objects.get(pk=first.asset_id).status == AssetStatus.REJECTED
