"""The portal's home page in a real browser: a contributor sees their images with status words,
filters them, and finds the news since their last visit; a second contributor sees none of the
first's images and gets 404 on the first's consent by URL; axe-core finds nothing serious."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from provenance.services.snapshots import snapshot_approve

pytestmark = pytest.mark.browser


def test_a_contributor_sees_their_images_news_and_consents(
    page: Page, world, contributor, reviewer, second_reviewer, sign_in, axe, screenshot
):
    snapshot_approve(snapshot_id=str(world.snapshot.pk), reviewer=reviewer)
    snapshot_approve(snapshot_id=str(world.snapshot.pk), reviewer=second_reviewer)
    sign_in(contributor)
    page.goto("/portal/")
    expect(page.get_by_role("img", name=f"Your image carla.jpg ({world.asset.pk})")).to_be_visible()
    news = page.get_by_role("region", name="New since your last visit")
    expect(news).to_contain_text("was approved for training that holds 1 image of yours: carla.jpg")
    axe(page)
    screenshot(page, "portal-home")

    page.get_by_label("Status", exact=True).select_option("withdrawn")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("None of your images has the status withdrawn.")).to_be_visible()
    page.reload()
    expect(news).to_contain_text("carla.jpg")  # a refresh in the same visit keeps the news


def test_a_second_contributor_cannot_see_the_first_ones_images_or_consent(page: Page, world, other_contributor, sign_in, axe):
    sign_in(other_contributor)
    page.goto("/portal/")
    expect(page.get_by_text("You have not uploaded any images yet.")).to_be_visible()
    expect(page.get_by_text("carla.jpg")).to_have_count(0)
    axe(page)
    response = page.goto(f"/portal/consents/{world.consent.pk}/")
    assert response is not None and response.status == 404
    response = page.goto(f"/portal/consents/{world.consent.pk}/revoke/")
    assert response is not None and response.status == 404
