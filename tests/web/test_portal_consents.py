"""The portal's consents in a real browser: a contributor gives a consent through the form (with
the signed form as a file), finds it on their home page, revokes it after reading what will
happen, and then sees what it changed; axe-core finds nothing serious on any of these pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from provenance.models import AssetStatus, ConsentRecord, SnapshotStatus

pytestmark = pytest.mark.browser


def test_a_contributor_gives_a_consent_through_the_form_and_finds_it_on_home(
    page: Page, contributor, sign_in, axe, screenshot, tmp_path
):
    signed = tmp_path / "my-signed-form.pdf"
    signed.write_bytes(b"%PDF-1.4 carla's signature")
    sign_in(contributor)
    page.goto("/portal/")
    page.get_by_role("link", name="Give a new consent").click()
    axe(page)
    screenshot(page, "portal-consent-new")

    uses = page.get_by_role("group", name="What may your images be used for?")
    uses.get_by_role("checkbox", name="ai_training").check()
    uses.get_by_role("checkbox", name="commercial_use").check()
    page.get_by_label("Expiry date").fill("2020-01-01")
    page.get_by_label("Signed consent form").set_input_files(str(signed))
    page.get_by_label("I have read the terms").check()
    page.get_by_role("button", name="Give consent").click()
    expect(page.get_by_role("alert")).to_contain_text("The expiry date has passed")
    axe(page)
    screenshot(page, "portal-consent-new-errors")
    assert ConsentRecord.objects.count() == 0

    page.get_by_label("Expiry date").fill("")
    page.get_by_label("Signed consent form").set_input_files(str(signed))  # a refused form keeps no file
    page.get_by_role("button", name="Add another person").click()
    expect(page.get_by_role("group", name="Person 3")).to_be_visible()
    page.get_by_role("button", name="Give consent").click()

    consent = ConsentRecord.objects.get()
    expect(page).to_have_url(f"/portal/consents/{consent.pk}/")
    expect(page.get_by_text(consent.evidence.sha256)).to_be_visible()
    expect(page.get_by_text("my-signed-form.pdf")).to_be_visible()
    axe(page)
    screenshot(page, "portal-consent")

    page.get_by_role("link", name="My images").first.click()
    expect(page.get_by_role("link", name=f"Consent of {consent.granted_at:%-d %b %Y} ({consent.pk})")).to_be_visible()


def test_a_contributor_revokes_after_reading_what_will_happen_and_sees_the_effects(
    page: Page, cpu_trained_model, contributor, sign_in, axe, screenshot
):
    trainable, model = cpu_trained_model
    consent = trainable.consent
    sign_in(contributor)
    page.goto(f"/portal/consents/{consent.pk}/")
    page.get_by_role("button", name="Revoke consent").click()

    expect(page.get_by_role("heading", name="Images to be withdrawn (2)")).to_be_visible()
    expect(page.get_by_text(str(trainable.snapshot.pk))).to_be_visible()
    expect(page.get_by_text(str(model.pk))).to_be_visible()
    axe(page)
    screenshot(page, "portal-revoke-preview")

    page.get_by_label("Reason").fill("   ")  # only spaces: the browser sends it, the page refuses it
    page.get_by_role("button", name="Confirm revocation").click()
    expect(page.get_by_text("Say in a few words why you revoke this consent.")).to_be_visible()
    page.get_by_label("Reason").fill("I no longer want my pictures used for training")
    page.get_by_role("button", name="Confirm revocation").click()

    expect(page).to_have_url(f"/portal/consents/{consent.pk}/")
    expect(page.get_by_role("heading", name="What the revocation changed")).to_be_visible()
    expect(page.get_by_role("heading", name="Snapshots tainted (1)")).to_be_visible()
    expect(page.get_by_role("heading", name="Models flagged (1)")).to_be_visible()
    expect(page.get_by_role("button", name="Revoke consent")).to_have_count(0)
    axe(page)
    screenshot(page, "portal-consent-revoked")
    response = page.goto(f"/portal/consents/{consent.pk}/revoke/")  # once more, by its address
    assert response is not None and response.status == 409
    expect(page.get_by_role("alert")).to_have_text("This consent is already revoked.")
    axe(page)
    assert set(consent.assets.values_list("status", flat=True)) == {AssetStatus.WITHDRAWN}
    trainable.snapshot.refresh_from_db()
    assert trainable.snapshot.status == SnapshotStatus.TAINTED
