"""The review pages in a real browser: a reviewer works the queue by keyboard alone, a
near-duplicate shows both images side by side, other roles are turned away, and axe-core finds
nothing serious on either page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from auditing.models import Finding, FindingStatus
from tests.auditing.factories import flagged_finding, near_duplicate_finding

pytestmark = pytest.mark.browser


@pytest.fixture
def two_flagged(world, contributor, settings) -> list[Finding]:
    """Two flagged images, newest last."""
    return [flagged_finding(settings, contributor, world.dataset, world.consent, seed=seed) for seed in (61, 62)]


def test_a_reviewer_works_the_queue_by_keyboard_alone(page: Page, reviewer, sign_in, two_flagged, tab_to, axe, screenshot):
    older, newer = two_flagged
    sign_in(reviewer)
    page.goto("/review/")
    expect(page.get_by_text("2 images with open findings match")).to_be_visible()
    axe(page)
    screenshot(page, "review-queue")

    first_link = page.get_by_role("link", name=str(newer.asset_id))
    tab_to(first_link)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/review/assets/{newer.asset_id}/$"))
    expect(page.get_by_role("img", name=re.compile(str(newer.asset_id))).first).to_be_visible()
    axe(page)
    screenshot(page, "review-asset")

    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()

    page.keyboard.press("r")
    expect(page.get_by_label("Reason")).to_be_focused()
    page.keyboard.type("A scan of a printed photograph, not generated")
    page.keyboard.press("Escape")
    page.keyboard.press("d")

    finding = page.get_by_role("article")
    expect(finding).to_contain_text("dismissed by rita")
    expect(page.locator("#asset-status")).to_have_text("Status: clear. 0 open findings.")
    newer.refresh_from_db()
    assert newer.status == FindingStatus.DISMISSED and newer.resolution_reason.startswith("A scan")

    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(f"/review/assets/{older.asset_id}/$"))
    expect(page.get_by_role("button", name="Dismiss")).to_be_enabled()


def test_without_a_reason_the_decision_waits_for_one(page: Page, reviewer, sign_in, two_flagged):
    sign_in(reviewer)
    page.goto(f"/review/assets/{two_flagged[0].asset_id}/")

    page.get_by_role("button", name="Dismiss").click()

    expect(page.get_by_label("Reason")).to_be_focused()
    two_flagged[0].refresh_from_db()
    assert two_flagged[0].status == FindingStatus.OPEN


def test_a_near_duplicate_shows_both_images_side_by_side(
    page: Page, reviewer, contributor, world, settings, tmp_path, sign_in, axe, screenshot
):
    match = near_duplicate_finding(settings, tmp_path, contributor, world.dataset, world.consent)
    sign_in(reviewer)
    page.goto(f"/review/assets/{match.asset_id}/")

    work = page.get_by_role("img", name=re.compile("protected work"))
    asset = page.get_by_role("img", name=re.compile(f"{match.asset_id} under review"))
    for image in (work, asset):
        expect(image).to_be_visible()
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), "the image did not load"
    expect(page.get_by_role("article")).to_contain_text("Acme Pictures")
    axe(page)
    screenshot(page, "review-near-duplicate")


def test_a_contributor_opening_a_review_page_is_refused(page: Page, contributor, sign_in, two_flagged):
    sign_in(contributor)

    for path in ("/review/", f"/review/assets/{two_flagged[0].asset_id}/"):
        response = page.goto(path)
        assert response is not None and response.status == 403
