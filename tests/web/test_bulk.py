"""Bulk decisions in a real browser: a reviewer filters a queue that runs to two pages, opens
the bulk decision page, sees the count covering both pages, gives a reason and dismisses them
all; a larger set shows a progress bar, then what was done; axe-core finds nothing serious."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from auditing.models import Finding, FindingStatus
from auditing.services.claims import asset_claim
from core.audit import audit_events
from core.background import background_run
from core.models import BackgroundJob, EventType
from tests.auditing.factories import flagged_finding

pytestmark = pytest.mark.browser


@pytest.fixture
def three_flagged(world, contributor, settings, monkeypatch) -> list[Finding]:
    """Three flagged images, two to a page of the queue: two pages."""
    monkeypatch.setattr("auditing.views.QUEUE_PAGE_SIZE", 2)
    return [flagged_finding(settings, contributor, world.dataset, world.consent, seed=seed) for seed in (101, 102, 103)]


def test_a_reviewer_dismisses_every_match_over_two_pages(page: Page, reviewer, sign_in, three_flagged, axe, screenshot):
    sign_in(reviewer)
    page.goto("/review/")
    page.get_by_label("Auditor").select_option("synthetic")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("3 images with open findings match")).to_be_visible()
    expect(page.get_by_role("link", name="Next page")).to_be_visible()  # the queue runs to two pages
    expect(page.get_by_role("row")).to_have_count(3)  # a header and two images

    page.get_by_role("link", name="Decide all 3 matches…").click()

    expect(page).to_have_url(re.compile(r"/review/bulk/\?.*auditor=synthetic"))
    expect(page.get_by_text("3 findings on 3 images will change.")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="flagged by the synthetic check")).to_be_visible()
    axe(page)
    screenshot(page, "bulk-confirm")

    page.get_by_role("radio", name="Dismiss").check()
    page.get_by_label("Reason").fill("Scans of printed photographs, not generated")
    page.get_by_role("button", name="Decide 3 findings").click()

    expect(page).to_have_url(re.compile(r"/review/\?auditor=synthetic$"))
    expect(page.get_by_role("status")).to_contain_text("3 dismissed.")
    expect(page.get_by_text("0 images with open findings match")).to_be_visible()
    decided = Finding.objects.filter(pk__in=[finding.pk for finding in three_flagged])
    assert [finding.status for finding in decided] == [FindingStatus.DISMISSED] * 3
    assert {finding.resolved_by for finding in decided} == {reviewer}
    assert audit_events(event_type=EventType.FINDING_RESOLVED).count() == 3


def test_a_contributor_opening_the_bulk_page_is_refused(page: Page, contributor, sign_in, three_flagged):
    sign_in(contributor)

    response = page.goto("/review/bulk/")

    assert response is not None and response.status == 403


def test_a_large_set_shows_its_progress_then_what_was_done(
    page: Page, reviewer, second_reviewer, sign_in, three_flagged, monkeypatch, axe, screenshot
):
    monkeypatch.setattr("auditing.bulk_views.INLINE_LIMIT", 2)
    asset_claim(asset_id=three_flagged[0].asset_id, reviewer=second_reviewer)
    sign_in(reviewer)
    page.goto("/review/bulk/")
    expect(page.get_by_text("ravi (1 finding)")).to_be_visible()
    page.get_by_role("radio", name="Confirm").check()
    page.get_by_label("Reason").fill("Generated images: must not be trained on")
    page.get_by_role("button", name="Decide 3 findings").click()

    expect(page).to_have_url(re.compile(r"/tasks/[0-9a-f-]+/$"))
    expect(page.get_by_role("progressbar")).to_be_visible()
    background_run(BackgroundJob.objects.get().pk)  # what the worker does

    expect(page.get_by_role("status")).to_contain_text("2 confirmed, 1 skipped (held by ravi: 1).")
    axe(page)
    screenshot(page, "bulk-job-done")
    assert Finding.objects.filter(status=FindingStatus.CONFIRMED).count() == 2
