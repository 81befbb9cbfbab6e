"""The review queue (auditing.selectors.review_queue): assets with open findings, filtered, in
either order, a page at a time by keyset; and claims, so two reviewers never decide the same
finding at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from auditing.models import Finding
from auditing.selectors import ReviewFilters, review_queue
from auditing.services import finding_resolve
from auditing.services.claims import asset_claim, asset_release, claim_holder
from core.exceptions import ApplicationError
from tests.auditing.factories import flagged_finding
from tests.provenance.factories import grant_consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(world, contributor, other_contributor, settings) -> list[Finding]:
    """Five flagged assets: three of Carla's, two of Otto's, findings one hour apart and scored
    0.1 … 0.5 in another order, so the two orders differ."""
    otto = grant_consent(other_contributor, "otto@example.com", evidence_bytes=b"%PDF otto's form")
    findings = []
    for seed, (user, consent) in enumerate([(contributor, world.consent)] * 3 + [(other_contributor, otto)] * 2, start=20):
        findings.append(flagged_finding(settings, user, world.dataset, consent, seed=seed))
    now = timezone.now()
    for hours, (finding, score) in enumerate(zip(findings, [0.3, 0.5, 0.1, 0.4, 0.2], strict=True)):
        Finding.objects.filter(pk=finding.pk).update(created_at=now - timedelta(hours=5 - hours), score=score)
    return findings


def asset_ids(page) -> list[str]:
    return [str(row.asset.pk) for row in page.rows]


def every_page(reviewer, filters: ReviewFilters | None = None, order="newest", limit=2) -> list[str]:
    filters = filters or ReviewFilters()
    seen, cursor = [], None
    while True:
        page = review_queue(user=reviewer, filters=filters, order=order, after=cursor, limit=limit)
        seen += asset_ids(page)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_newest_first_by_keyset_pages_each_asset_exactly_once(queue, reviewer):
    first = review_queue(user=reviewer, filters=ReviewFilters(), limit=2)
    assert first.total == 5 and len(first.rows) == 2 and first.next_cursor
    newest_first = [str(f.asset_id) for f in reversed(queue)]
    assert every_page(reviewer) == newest_first
    assert first.rows[0].open_findings == 1 and first.rows[0].auditors == ["synthetic"]


def test_by_score_orders_by_the_highest_open_finding(queue, reviewer):
    by_score = [str(f.asset_id) for f in sorted(queue, key=lambda f: -Finding.objects.get(pk=f.pk).score)]
    assert every_page(reviewer, order="score") == by_score


def test_filters_narrow_the_queue_and_its_count(queue, reviewer):
    ottos = ReviewFilters(contributor="OTTO@example.com")
    assert review_queue(user=reviewer, filters=ottos).total == 2
    strong = ReviewFilters(min_score=0.3, max_score=0.45)
    assert sorted(every_page(reviewer, strong)) == sorted(str(queue[i].asset_id) for i in (0, 3))
    assert review_queue(user=reviewer, filters=ReviewFilters(auditor="pii")).total == 0
    assert review_queue(user=reviewer, filters=ReviewFilters(dataset="no-such-dataset")).total == 0
    recent = ReviewFilters(since=timezone.now() - timedelta(hours=2, minutes=30))
    assert review_queue(user=reviewer, filters=recent).total == 2


def test_a_decided_finding_leaves_the_queue(queue, reviewer):
    finding_resolve(finding_id=str(queue[0].pk), reviewer=reviewer, decision="dismiss", reason="a false positive")
    assert str(queue[0].asset_id) not in every_page(reviewer)


def test_a_contributor_sees_only_their_own_assets_in_any_queue(queue, contributor):
    assert sorted(every_page(contributor)) == sorted(str(f.asset_id) for f in queue[:3])


def test_who_sees_no_asset_gets_an_empty_queue(queue, ml_engineer, outsider):
    for user in (ml_engineer, outsider):
        assert review_queue(user=user, filters=ReviewFilters()).total == 0 and every_page(user) == []


@pytest.mark.parametrize("cursor", ["garbage", "x" * 500, "WyJzY29yZSIsICIxIiwgIm5vLXV1aWQiXQ"])
def test_a_tampered_page_link_is_refused_clearly(queue, reviewer, cursor):
    with pytest.raises(ApplicationError) as refused:
        review_queue(user=reviewer, filters=ReviewFilters(), after=cursor)
    assert refused.value.code == "invalid_cursor" and "first page" in refused.value.message


def test_a_cursor_of_one_order_is_refused_in_the_other(queue, reviewer):
    cursor = review_queue(user=reviewer, filters=ReviewFilters(), limit=1).next_cursor
    with pytest.raises(ApplicationError) as refused:
        review_queue(user=reviewer, filters=ReviewFilters(), order="score", after=cursor)
    assert refused.value.code == "invalid_cursor"


def test_a_page_costs_the_same_queries_whatever_its_length(queue, reviewer, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        review_queue(user=reviewer, filters=ReviewFilters(), limit=1)
    with django_assert_max_num_queries(6):
        review_queue(user=reviewer, filters=ReviewFilters(), limit=50)


# -- claims -------------------------------------------------------------------------------------
def test_an_asset_held_by_one_reviewer_cannot_be_decided_by_another(queue, reviewer, second_reviewer):
    finding = queue[0]
    asset_claim(asset_id=finding.asset_id, reviewer=reviewer)
    with pytest.raises(ApplicationError) as held:
        asset_claim(asset_id=finding.asset_id, reviewer=second_reviewer)
    assert held.value.code == "claimed" and held.value.extra["held_by"] == reviewer.username
    assert reviewer.username in held.value.message
    with pytest.raises(ApplicationError) as refused:
        finding_resolve(finding_id=str(finding.pk), reviewer=second_reviewer, decision="confirm", reason="looks generated")
    assert refused.value.code == "claimed"
    assert Finding.objects.get(pk=finding.pk).status == "open"

    finding_resolve(finding_id=str(finding.pk), reviewer=reviewer, decision="dismiss", reason="a false positive")
    assert Finding.objects.get(pk=finding.pk).status == "dismissed"


def test_a_released_or_lapsed_claim_frees_the_asset(queue, reviewer, second_reviewer):
    asset_id = queue[1].asset_id
    asset_claim(asset_id=asset_id, reviewer=reviewer)
    asset_release(asset_id=asset_id, reviewer=second_reviewer)  # not theirs: nothing happens
    assert claim_holder(asset_id).reviewer == reviewer
    asset_release(asset_id=asset_id, reviewer=reviewer)
    assert claim_holder(asset_id) is None

    claim = asset_claim(asset_id=asset_id, reviewer=reviewer)
    type(claim).objects.filter(pk=claim.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert claim_holder(asset_id) is None
    assert asset_claim(asset_id=asset_id, reviewer=second_reviewer).reviewer == second_reviewer


def test_claiming_again_renews_the_hold(queue, reviewer, settings):
    settings.CLEANROOM_REVIEW_CLAIM_SECONDS = 60
    first = asset_claim(asset_id=queue[2].asset_id, reviewer=reviewer)
    type(first).objects.filter(pk=first.pk).update(expires_at=timezone.now() + timedelta(seconds=5))
    renewed = asset_claim(asset_id=queue[2].asset_id, reviewer=reviewer)
    assert renewed.expires_at > timezone.now() + timedelta(seconds=50) and renewed.claimed_at == first.claimed_at


def test_only_reviewers_claim_and_unknown_assets_are_refused(queue, contributor, reviewer):
    with pytest.raises(ApplicationError) as refused:
        asset_claim(asset_id=queue[0].asset_id, reviewer=contributor)
    assert refused.value.code == "permission_denied"
    with pytest.raises(ApplicationError) as unknown:
        asset_claim(asset_id="00000000-0000-0000-0000-000000000000", reviewer=reviewer)
    assert unknown.value.code == "unknown_asset"
