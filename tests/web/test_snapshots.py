"""The snapshot and base-model pages in a real browser: two reviewers approve a snapshot, each
pressing Approve, after its creator was refused; a snapshot shows what changed since the last
approved one; a base model is approved the same way; axe-core finds nothing serious anywhere."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from core.roles import Role
from core.users import user_add
from provenance.models import Snapshot, SnapshotStatus
from provenance.services.snapshots import snapshot_create
from tests.core.factories import user_with_role
from tests.support.snapshot_worlds import DISMISSAL_REASON, diff_world
from tests.training.factories import registered_base_model
from training.models import BaseModel, BaseModelStatus

pytestmark = pytest.mark.browser


def test_two_reviewers_approve_a_snapshot_and_its_creator_is_refused(
    page: Page, world, reviewer, second_reviewer, sign_in, axe, screenshot
):
    creator = user_with_role("bea", Role.ML_ENGINEER)
    user_add(username="bea", role=Role.REVIEWER)
    snapshot = snapshot_create(dataset_slug=world.dataset.slug, actor=creator)
    path = f"/snapshots/{snapshot.pk}/"

    sign_in(creator)
    page.goto("/snapshots/")
    expect(page.get_by_text("2 snapshots match")).to_be_visible()
    axe(page)
    screenshot(page, "snapshot-list")
    page.goto(path)
    expect(page.get_by_text(snapshot.merkle_root, exact=True)).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("alert")).to_contain_text("You built this snapshot, so you may not approve or reject it")
    axe(page)

    for person, outcome in (
        (reviewer, "A second reviewer must approve it too"),
        (second_reviewer, "yours was the second approval"),
    ):
        sign_in(person)
        page.goto(path)
        expect(page.locator("#four-eyes")).to_contain_text("in_review")
        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_role("status")).to_contain_text(outcome)

    decision = page.locator("#four-eyes")
    expect(decision).to_contain_text("Status: approved")
    expect(decision).to_contain_text("rita, ravi")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    assert Snapshot.objects.get(pk=snapshot.pk).status == SnapshotStatus.APPROVED
    axe(page)


def test_a_rejection_waits_for_a_reason(page: Page, world, reviewer, sign_in):
    sign_in(reviewer)
    page.goto(f"/snapshots/{world.snapshot.pk}/")

    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_label("Reason")).to_be_focused()
    assert Snapshot.objects.get(pk=world.snapshot.pk).status == SnapshotStatus.IN_REVIEW

    page.get_by_label("Reason").fill("Two of the images show a person who gave no consent")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#four-eyes")).to_contain_text("Status: rejected")
    expect(page.locator("#four-eyes")).to_contain_text("rita rejected it: Two of the images")


def test_a_snapshot_shows_what_changed_since_the_last_approved_one(
    page: Page, settings, world, contributor, other_contributor, reviewer, second_reviewer, ml_engineer, sign_in, axe, screenshot
):
    two = diff_world(
        settings,
        world,
        contributor=contributor,
        other_contributor=other_contributor,
        reviewer=reviewer,
        second_reviewer=second_reviewer,
        ml_engineer=ml_engineer,
    )
    sign_in(second_reviewer)
    page.goto(f"/snapshots/{two.after.pk}/")

    diff = page.get_by_role("region", name="What changed since the last approved snapshot")
    expect(diff).to_contain_text("Images added (2)")
    expect(diff).to_contain_text("Images removed (1)")
    expect(diff).to_contain_text(DISMISSAL_REASON)
    expect(diff.get_by_role("link", name=re.compile(str(two.before.pk)))).to_be_visible()
    for image in (
        page.get_by_role("img", name=f"Image {two.added_by_otto.pk}").first,
        page.get_by_role("img", name=f"Image {two.removed.pk}"),
    ):
        image.scroll_into_view_if_needed()
        expect(image).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(page.get_by_text(two.after.merkle_root, exact=True)).to_be_visible()
    axe(page)
    screenshot(page, "snapshot-diff")


def test_a_base_model_is_approved_by_two_reviewers(
    page: Page, tiny_model_dir, ml_engineer, reviewer, second_reviewer, sign_in, axe, screenshot
):
    base_model = registered_base_model(tiny_model_dir, ml_engineer)
    sign_in(reviewer)
    page.goto("/snapshots/")
    page.get_by_role("link", name="base models awaiting approval").click()
    expect(page).to_have_url(re.compile(r"/base-models/\?status=in_review$"))
    axe(page)
    page.get_by_role("link", name=base_model.name).click()
    expect(page.get_by_text(base_model.sha256, exact=True)).to_be_visible()
    axe(page)
    screenshot(page, "base-model")

    for person in (reviewer, second_reviewer):
        sign_in(person)
        page.goto(f"/base-models/{base_model.pk}/")
        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_role("status")).to_be_visible()

    expect(page.locator("#four-eyes")).to_contain_text("Status: approved")
    assert BaseModel.objects.get(pk=base_model.pk).status == BaseModelStatus.APPROVED


def test_a_contributor_opening_a_snapshot_is_refused(page: Page, world, contributor, sign_in):
    sign_in(contributor)

    for path in ("/snapshots/", f"/snapshots/{world.snapshot.pk}/", "/base-models/"):
        response = page.goto(path)
        assert response is not None and response.status == 403
