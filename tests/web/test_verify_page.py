"""The public verify page in a real browser, as an anonymous visitor: a generated output reads
Trusted with its whole chain; a stripped copy is searched by a worker while the page shows
progress, then Recovered; a tampered copy reads Invalid; an unrelated photo Unknown; an output
whose snapshot was tainted after generation Tainted, its signature still ours and intact; a
copy re-signed by someone else Untrusted. By keyboard, by drag and drop, and axe-core clean."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from skimage import data as samples

from generation.models import Verification
from generation.output_index import output_index_forget
from generation.services.verification import verification_run
from generation.services.verification_results import verification_report_sign
from provenance.c2pa.manifests import read_manifest, sign_image, training_mining_assertion
from provenance.services.consent import consent_revoke
from tests.generation.factories import released, tampered_png
from tests.support.pki import use_identity, write_identity
from tests.support.worlds import ModelWorld

pytestmark = pytest.mark.browser


@pytest.fixture
def made(cpu_model_world: ModelWorld, product) -> Iterator:
    """A model trained here on carla's approved, consented images, and one output of it (pia's)."""
    output_index_forget()
    world = cpu_model_world
    output, data = released(world, product)
    yield world, output, data
    output_index_forget()


def as_file(name: str, data: bytes, mime_type: str = "image/png") -> dict:
    return {"name": name, "mimeType": mime_type, "buffer": data}


def verify(page: Page, name: str, data: bytes, mime_type: str = "image/png") -> None:
    page.goto("/verify/")
    page.get_by_label("Image").set_input_files(as_file(name, data, mime_type))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/verify/[0-9a-f-]{36}/$"))


def run_worker(page: Page) -> None:
    """What the `audit` worker does with the verification this page shows."""
    verification = Verification.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[-1])
    assert verification_run(verification_id=verification.pk, task_id=verification.task_id) == "done"


def settle(page: Page) -> None:
    """The worker's search, where the image's own manifest did not settle the question at once."""
    if Verification.objects.filter(pk=page.url.rstrip("/").rsplit("/", 1)[-1], status="queued").exists():
        run_worker(page)


def verdict(page: Page):
    return page.get_by_role("status").filter(has=page.locator("#verdict-word"))


def stripped(data: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def test_an_anonymous_visitor_verifies_an_output_and_its_copies(made, page: Page, tab_to, axe, screenshot):
    world, output, data = made
    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name="Verify").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify an image")
    axe(page)
    screenshot(page, "verify-form")

    # Trusted, by keyboard: Tab to the Image field, pick the file (the system's own dialog, which
    # a test cannot drive), Tab to Verify, Enter.
    tab_to(page.get_by_label("Image"))
    page.get_by_label("Image").set_input_files(as_file("output.png", data))
    tab_to(page.get_by_role("button", name="Verify"))
    page.keyboard.press("Enter")
    expect(verdict(page)).to_contain_text("Trusted")
    for kind, pk in (
        ("output", output.pk),
        ("model", world.model.pk),
        ("base_model", world.model.base_model.pk),
        ("snapshot", world.snapshot.pk),
    ):
        item = page.get_by_role("listitem").filter(has=page.get_by_text(kind, exact=True)).filter(has_text=str(pk))
        expect(item.first).to_be_visible()
    expect(page.get_by_text(world.snapshot.merkle_root)).to_be_visible()
    axe(page)
    screenshot(page, "verify-trusted")

    # Recovered: a stripped copy, dropped onto the field; a worker searches while the page waits.
    page.goto("/verify/")
    transfer = page.evaluate_handle(
        "([name, data]) => { const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));"
        " const transfer = new DataTransfer(); transfer.items.add(new File([bytes], name, {type: 'image/png'}));"
        " return transfer; }",
        ["copy.png", base64.b64encode(stripped(data)).decode()],
    )
    page.get_by_label("Image").dispatch_event("drop", {"dataTransfer": transfer})
    expect(page).to_have_url(re.compile(r"/verify/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("heading", name="Searching")).to_be_visible()
    expect(page.get_by_role("progressbar")).to_be_visible()
    axe(page)
    screenshot(page, "verify-searching")
    run_worker(page)
    expect(verdict(page)).to_contain_text("Recovered")
    expect(page.get_by_role("region", name="How it was traced")).to_contain_text("watermark")
    expect(page.get_by_role("region", name="How it was traced")).to_contain_text("confidence")
    expect(page.get_by_role("listitem").filter(has=page.get_by_text("output", exact=True)).first).to_contain_text(str(output.pk))
    axe(page)
    screenshot(page, "verify-recovered")

    # Invalid: pixels changed after signing.
    verify(page, "tampered.png", tampered_png(data))
    expect(verdict(page)).to_contain_text("Invalid")
    expect(page.get_by_role("heading", name="Which check failed")).to_be_visible()
    expect(page.get_by_text("assertion.dataHash.mismatch")).to_be_visible()
    axe(page)
    screenshot(page, "verify-invalid")

    # Unknown: a photo that has nothing to do with us.
    photo = io.BytesIO()
    Image.fromarray(samples.coffee()).save(photo, "JPEG", quality=90)
    verify(page, "coffee.jpg", photo.getvalue(), "image/jpeg")
    run_worker(page)
    expect(verdict(page)).to_contain_text("Unknown")
    expect(page.get_by_role("heading", name="What made it")).to_have_count(0)
    axe(page)
    screenshot(page, "verify-unknown")


def test_an_output_whose_snapshot_was_tainted_since_reads_tainted_and_its_report_is_signed(
    made, contributor, page: Page, axe, screenshot
):
    world, _, data = made
    consent_revoke(consent_id=world.consent_id, actor=contributor, reason="the photographer withdrew")

    verify(page, "output.png", data)

    expect(verdict(page)).to_contain_text("Tainted")
    expect(verdict(page)).to_contain_text("The signature itself is ours and intact")
    expect(page.get_by_role("region", name="What no longer holds")).to_contain_text(world.consent_id)  # which, and when
    # The innermost item naming the snapshot (its ancestors' items hold it too).
    snapshot = page.get_by_role("listitem").filter(has=page.get_by_text("snapshot", exact=True)).last
    expect(snapshot).to_contain_text(str(world.snapshot.pk))
    expect(snapshot).to_contain_text("tainted")
    axe(page)
    screenshot(page, "verify-tainted")

    page.get_by_role("button", name="Prepare a signed report").click()
    expect(page.get_by_role("heading", name="Signing")).to_be_visible()
    screenshot(page, "verify-report-signing")
    verification_report_sign(verification_id=page.url.rstrip("/").split("/")[-2])  # what the worker does
    download_link = page.get_by_role("link", name="Download the signed report")
    expect(download_link).to_be_visible()
    axe(page)
    screenshot(page, "verify-report-ready")
    with page.expect_download() as downloading:
        download_link.click()
    with open(downloading.value.path(), "rb") as handle:
        reading = read_manifest(handle.read(), "application/x-zip")
    assert reading.state == "Trusted", reading.errors


def test_a_photo_signed_by_another_studio_reads_untrusted(pki, page: Page, settings, tmp_path, axe, screenshot):
    photo = io.BytesIO()
    Image.fromarray(samples.coffee()).save(photo, "PNG")
    mine, our_pki = settings.CLEANROOM_SIGNER, settings.CLEANROOM_PKI_DIR
    use_identity(settings, write_identity(tmp_path / "stranger", name="Another studio"))
    theirs = sign_image(
        image=photo.getvalue(), mime_type="image/png", title="coffee", assertions=[training_mining_assertion()], ingredients=[],
        digital_source_type="digitalCapture",
    )  # fmt: skip
    settings.CLEANROOM_SIGNER, settings.CLEANROOM_PKI_DIR = mine, our_pki

    verify(page, "coffee.png", theirs)
    settle(page)  # not ours: the service looks for our soft bindings too

    expect(verdict(page)).to_contain_text("Untrusted")
    expect(page.get_by_role("region", name="Who signed it")).to_contain_text("Another studio")  # the signer named
    axe(page)
    screenshot(page, "verify-untrusted")


def test_a_refused_file_keeps_the_form_with_the_reason(pki, page: Page, axe, screenshot):
    huge = io.BytesIO()
    Image.new("L", (8192, 8192)).save(huge, "PNG")

    page.goto("/verify/")
    page.get_by_label("Image").set_input_files(as_file("huge.png", huge.getvalue()))
    page.get_by_role("button", name="Verify").click()

    expect(page.get_by_role("alert")).to_contain_text("too large to verify")
    expect(page.get_by_label("Image")).to_be_visible()
    expect(page.get_by_role("button", name="Verify")).to_be_enabled()
    axe(page)
    screenshot(page, "verify-too-large")
