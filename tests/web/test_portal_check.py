"""'Was my image used?' in a real browser: carla drops her image, sees the snapshot that
includes it, downloads the proof and the test checks it with docs/merkle.md's own lines; a file
of nobody's is "not found among your images"; otto cannot fetch carla's proof by its URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.storage import blob_open
from tests.provenance.factories import image_bytes
from tests.support.merkle_doc import check_with_doc

pytestmark = pytest.mark.browser


def carlas_file(world, folder: Path) -> Path:
    path = folder / "my-photo.jpg"
    with blob_open(world.asset.sha256) as handle:
        path.write_bytes(handle.read())
    return path


def test_a_contributor_checks_an_image_and_the_downloaded_proof_holds(
    page: Page, world, contributor, sign_in, axe, screenshot, tmp_path
):
    image = carlas_file(world, tmp_path)
    sign_in(contributor)
    page.goto("/portal/check/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Was my image used?")
    axe(page)
    screenshot(page, "portal-check")

    page.get_by_label("Image", exact=True).set_input_files(str(image))
    page.get_by_role("button", name="Check", exact=True).click()

    snapshot = page.get_by_role("article").filter(has_text=str(world.snapshot.pk))
    expect(snapshot).to_contain_text("included")
    expect(snapshot).to_contain_text(world.snapshot.merkle_root)
    axe(page)
    screenshot(page, "portal-check-answer")

    with page.expect_download() as downloading:
        snapshot.get_by_role("link", name="Download proof").click()
    proof = tmp_path / "proof.json"
    downloading.value.save_as(proof)
    assert check_with_doc(proof, image) == "included"


def test_a_contributor_picks_one_of_their_images_with_the_keyboard(page: Page, world, contributor, sign_in, tab_to):
    sign_in(contributor)
    page.goto("/portal/check/")

    page.get_by_label("Your image", exact=True).select_option(str(world.asset.pk))
    show = page.get_by_role("button", name="Show where it was used")
    tab_to(show)
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"/portal/check/?asset={world.asset.pk}")
    expect(page.get_by_role("article")).to_contain_text("included")


def test_an_unrelated_file_is_not_found_among_your_images(page: Page, world, contributor, sign_in, axe, screenshot, tmp_path):
    stranger = tmp_path / "stranger.jpg"
    stranger.write_bytes(image_bytes(seed=404))
    sign_in(contributor)
    page.goto("/portal/check/")

    page.get_by_label("Image", exact=True).set_input_files(str(stranger))
    page.get_by_role("button", name="Check", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("not found among your images")
    expect(page.get_by_role("link", name="Download proof")).to_have_count(0)
    axe(page)
    screenshot(page, "portal-check-not-found")


def test_another_contributor_cannot_fetch_the_proof_by_its_url(page: Page, world, other_contributor, sign_in):
    sign_in(other_contributor)

    response = page.goto(f"/portal/check/{world.asset.pk}/proof/{world.snapshot.pk}.json")

    assert response is not None and response.status == 404


def test_the_explanation_of_proofs_is_one_click_away(page: Page, world, contributor, sign_in, axe, screenshot):
    sign_in(contributor)
    page.goto("/portal/check/")

    page.get_by_role("link", name="How to check a proof yourself").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("How to check a proof yourself")
    expect(page.get_by_text("RFC 9162").first).to_be_visible()
    axe(page)
    screenshot(page, "portal-check-howto")
