"""What a reviewer reads about a snapshot (provenance.snapshot_review): the diff against the last
approved snapshot of the dataset, the consents it rests on, and its members a page at a time,
each limited to what the reader may see."""

from __future__ import annotations

import pytest

from auditing.services.audits import finding_resolve
from core.exceptions import ApplicationError
from provenance.services.snapshots import snapshot_approve, snapshot_create, snapshot_reject
from provenance.snapshot_review import snapshot_consents, snapshot_diff, snapshot_diff_base, snapshot_members_page
from tests.auditing.factories import flagged_finding
from tests.support.snapshot_worlds import DISMISSAL_REASON, diff_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(settings, world, contributor, other_contributor, reviewer, second_reviewer, ml_engineer):
    return diff_world(
        settings,
        world,
        contributor=contributor,
        other_contributor=other_contributor,
        reviewer=reviewer,
        second_reviewer=second_reviewer,
        ml_engineer=ml_engineer,
    )


def test_a_first_snapshot_has_nothing_to_compare_with(world, reviewer):
    diff = snapshot_diff(snapshot=world.snapshot, user=reviewer)

    assert diff.base is None and not diff.unchanged and diff.added.count == 0


def test_the_diff_lists_images_added_and_removed(two, reviewer):
    diff = snapshot_diff(snapshot=two.after, user=reviewer)

    assert diff.base == two.before and diff.approved_at == two.before.status_changed_at
    assert {member.asset_id for member in diff.added.rows} == {two.dismissed.asset_id, two.added_by_otto.pk}
    assert diff.added.count == 2
    assert [member.asset_id for member in diff.removed.rows] == [two.removed.pk] and diff.removed.count == 1
    assert diff.visible_assets == {two.dismissed.asset_id, two.added_by_otto.pk, two.removed.pk}


def test_the_diff_lists_consents_newly_relied_on_and_changed_since_the_approval(two, world, reviewer):
    diff = snapshot_diff(snapshot=two.after, user=reviewer)

    assert [consent.pk for consent in diff.consents_added.rows] == [two.otto_consent.pk]
    assert diff.consents_dropped.count == 0
    assert [(event.consent_id, event.kind) for event in diff.consent_events.rows] == [(world.consent.pk, "renewed")]


def test_the_diff_lists_findings_dismissed_since_the_approval_on_the_snapshots_images(two, reviewer):
    diff = snapshot_diff(snapshot=two.after, user=reviewer)

    assert diff.dismissed.count == 1
    (dismissal,) = diff.dismissed.rows
    assert dismissal.asset_id == str(two.dismissed.asset_id) and dismissal.code == two.dismissed.code
    assert dismissal.reviewer == reviewer.username and dismissal.reason == DISMISSAL_REASON


def test_a_finding_dismissed_before_the_approval_is_not_new(settings, world, contributor, reviewer, second_reviewer, ml_engineer):
    finding = flagged_finding(settings, contributor, world.dataset, world.consent, seed=43)
    finding_resolve(finding_id=str(finding.pk), reviewer=reviewer, decision="dismiss", reason="fine")
    first = snapshot_create(dataset_slug=world.dataset.slug, actor=ml_engineer)
    snapshot_approve(snapshot_id=str(first.pk), reviewer=reviewer)
    snapshot_approve(snapshot_id=str(first.pk), reviewer=second_reviewer)
    second = snapshot_create(dataset_slug=world.dataset.slug, actor=ml_engineer)

    diff = snapshot_diff(snapshot=second, user=reviewer)

    assert diff.base == first and diff.unchanged
    assert diff.dismissed.count == 0 and diff.added.count == 0 and diff.removed.count == 0


def test_the_diff_compares_with_the_last_approved_snapshot_built_before_it(two, world, reviewer, second_reviewer, ml_engineer):
    rejected = snapshot_create(dataset_slug=world.dataset.slug, actor=ml_engineer)
    snapshot_reject(snapshot_id=str(rejected.pk), reviewer=reviewer, reason="not yet")
    latest = snapshot_create(dataset_slug=world.dataset.slug, actor=ml_engineer)

    assert snapshot_diff_base(latest) == two.before  # not the rejected one, nor one still in review
    assert snapshot_diff_base(two.before) is None  # nothing approved was built before the first

    snapshot_approve(snapshot_id=str(two.after.pk), reviewer=reviewer)
    snapshot_approve(snapshot_id=str(two.after.pk), reviewer=second_reviewer)
    assert snapshot_diff_base(latest) == two.after


def test_an_ml_engineer_sees_the_image_changes_but_neither_consents_nor_findings(two, ml_engineer):
    diff = snapshot_diff(snapshot=two.after, user=ml_engineer)

    assert diff.added.count == 2 and diff.removed.count == 1
    assert diff.visible_assets == set()
    assert diff.consents_added.rows == [] and diff.consents_added.withheld == 1
    assert diff.consent_events.rows == [] and diff.consent_events.withheld == 1
    assert diff.dismissed.rows == [] and diff.dismissed.count == 0 and diff.dismissed.withheld == 1


def test_the_consents_a_snapshot_rests_on_carry_their_state_now(two, world, compliance, ml_engineer):
    consents = snapshot_consents(snapshot=two.after, user=compliance)

    assert {row.consent.pk for row in consents.rows} == {world.consent.pk, two.otto_consent.pk}
    assert consents.total == 2 and consents.withheld == 0
    assert {row.state.status for row in consents.rows} == {"active"}
    hidden = snapshot_consents(snapshot=two.after, user=ml_engineer)
    assert hidden.rows == [] and hidden.total == 2 and hidden.withheld == 2


def test_members_come_a_page_at_a_time_by_leaf_index(two, reviewer):
    first = snapshot_members_page(snapshot=two.after, user=reviewer, limit=1)
    second = snapshot_members_page(snapshot=two.after, user=reviewer, after=str(first.next_after), limit=1)

    assert [m.index for m in first.rows] == [0] and first.next_after == 0
    assert [m.index for m in second.rows] == [1] and second.next_after is None
    assert first.visible_assets == {first.rows[0].asset_id}


@pytest.mark.parametrize("after", ["-1", "x", "1e3", "99999999999999999999999"])
def test_an_edited_members_page_link_is_refused(after, world, reviewer):
    with pytest.raises(ApplicationError) as refused:
        snapshot_members_page(snapshot=world.snapshot, user=reviewer, after=after)

    assert refused.value.code == "invalid_cursor"
