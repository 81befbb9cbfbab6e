"""The evidence drawn on the asset page, in a real browser: a near-duplicate's matched region on
both images with overlay, flicker and difference worked by keyboard; personal data boxed on the
image with its masked value; zoom; and a GIF/JS polyglot that never runs, whichever way a page
tries to load it."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image, ImageDraw, ImageFont
from playwright.sync_api import Page, expect
from skimage import data as samples

from auditing.models import Finding
from auditing.services import asset_audit_run, audits_request
from provenance.models import Asset
from tests.auditing.factories import near_duplicate_finding
from tests.provenance.factories import ingest
from tests.support.polyglot import polyglot_as_javascript, polyglot_gif

pytestmark = pytest.mark.browser


@pytest.fixture
def near_duplicate(world, contributor, settings, tmp_path) -> Finding:
    return near_duplicate_finding(settings, tmp_path, contributor, world.dataset, world.consent)


@pytest.fixture
def personal_data(world, contributor, settings) -> Asset:
    """The astronaut's portrait with a phone number written under it and the place it was taken
    in its EXIF: a face, a number in the pixels and a location, audited by the PII auditor."""
    photo = Image.fromarray(samples.astronaut()).convert("RGB")
    canvas = Image.new("RGB", (photo.width, photo.height + 90), "white")
    canvas.paste(photo, (0, 0))
    ImageDraw.Draw(canvas).text((40, photo.height + 25), "Call 212-555-0147", fill="black", font=ImageFont.load_default(size=36))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=92, exif=exif)
    settings.CLEANROOM_AUDITORS = ["auditing.auditors.pii.PiiAuditor"]
    upload = SimpleUploadedFile("portrait.jpg", buffer.getvalue(), "image/jpeg")
    result = ingest(contributor, world.dataset, world.consent, upload)
    asset_id = result["accepted"][0]["asset_id"]
    with transaction.atomic():
        audits_request(asset_ids=[asset_id])
    assert asset_audit_run(asset_id=asset_id, task_id="test-pii") == "flagged"
    return Asset.objects.get(pk=asset_id)


def overlay_opacity(page: Page) -> str:
    return page.locator(".compare__overlay").evaluate("img => getComputedStyle(img).opacity")


def test_a_near_duplicate_shows_the_matched_region_on_both_images_and_compares_them_by_keyboard(
    page: Page, reviewer, near_duplicate, sign_in, tab_to, axe, screenshot
):
    sign_in(reviewer)
    page.goto(f"/review/assets/{near_duplicate.asset_id}/")

    asset = page.get_by_role("img", name=re.compile(f"{near_duplicate.asset_id} under review"))
    work = page.get_by_role("img", name=re.compile("protected work"))
    for image in (asset, work):
        expect(image).to_be_visible()
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), "the image did not load"
    for name in ("Outline of the matched region on this image", "Outline of the matched region on the other image"):
        outline = page.get_by_role("img", name=name)
        expect(outline).to_be_visible()
        assert outline.locator("polygon").get_attribute("points"), "no region drawn"
    expect(page.get_by_text("This image: all of it appears in the protected work")).to_be_visible()
    covered = re.compile(r"catalogue #7: the outlined part, \d\d% of it, is what this image shows")
    expect(page.get_by_text(covered)).to_be_visible()
    # The copy is a crop: its outline on the protected work lies inside the work's edges.
    drawn = page.get_by_role("img", name="Outline of the matched region on the other image").locator("polygon").bounding_box()
    shown = work.bounding_box()
    assert drawn and shown and drawn["width"] < shown["width"] - 10 and drawn["height"] < shown["height"] - 10
    axe(page)
    screenshot(page, "asset-near-duplicate")

    overlay, flicker, difference = (page.get_by_role("button", name=name) for name in ("Overlay", "Flicker", "Difference"))
    tab_to(overlay)
    page.keyboard.press("Enter")
    expect(overlay).to_have_attribute("aria-pressed", "true")
    warped = page.locator(".compare__overlay")
    expect(warped).to_be_visible()
    assert "matrix3d" in warped.evaluate("img => img.style.transform")
    # Laid over the asset, the whole work covers it (the asset is a crop of it).
    over, under = warped.bounding_box(), asset.bounding_box()
    assert over and under and over["x"] <= under["x"] + 3 and over["x"] + over["width"] >= under["x"] + under["width"] - 3
    assert overlay_opacity(page) == "0.5"
    tab_to(page.get_by_label("Opacity of the protected work"))
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert overlay_opacity(page) == "0.55"
    axe(page)
    screenshot(page, "asset-near-duplicate-overlay")

    tab_to(flicker)
    page.keyboard.press(" ")
    expect(flicker).to_have_attribute("aria-pressed", "true")
    expect(overlay).to_have_attribute("aria-pressed", "false")
    seen = {overlay_opacity(page)}
    for _ in range(30):
        page.wait_for_timeout(100)
        seen.add(overlay_opacity(page))
    assert seen == {"0", "1"}, "flicker alternates the two images"

    tab_to(difference)
    page.keyboard.press("Enter")
    expect(difference).to_have_attribute("aria-pressed", "true")
    assert warped.evaluate("img => getComputedStyle(img).mixBlendMode") == "difference"
    screenshot(page, "asset-near-duplicate-difference")
    page.keyboard.press("Enter")
    expect(difference).to_have_attribute("aria-pressed", "false")
    expect(warped).to_be_hidden()


def test_personal_data_is_boxed_on_the_image_with_its_masked_value_and_the_image_zooms(
    page: Page, reviewer, personal_data, sign_in, tab_to, axe, screenshot
):
    sign_in(reviewer)
    page.goto(f"/review/assets/{personal_data.pk}/")

    marks = page.get_by_role("img", name=re.compile("Personal data marked on the image"))
    expect(marks).to_be_visible()
    expect(marks).to_have_accessible_name(re.compile(r"box \d, phone number: 2\*\*-\*\*\*-\*\*47"))
    expect(marks).to_have_accessible_name(re.compile(r"box \d, face"))
    expect(marks).not_to_have_accessible_name(re.compile("555"))
    phone = page.get_by_role("article").filter(has_text="phone number")
    expect(phone).to_contain_text(re.compile(r"Marked on the image above as box \d"))
    number = int(re.search(r"as box (\d)", phone.inner_text()).group(1))
    gps = page.get_by_role("article").filter(has_text="gps")
    expect(gps).to_contain_text("latitude 48.858333° N, longitude 2.294444° E")
    # The phone number's box sits in the white band under the photo.
    phone_box = marks.locator("rect").nth(number - 1)
    box = phone_box.bounding_box()
    image = page.get_by_role("img", name=re.compile(f"Image {personal_data.pk}")).bounding_box()
    assert box and image and box["y"] > image["y"] + image["height"] * 0.8
    axe(page)
    screenshot(page, "asset-pii")

    tab_to(page.get_by_role("group", name="The image (zoomable)"))
    page.keyboard.press("+")
    page.keyboard.press("+")
    expect(page.get_by_role("status", name="Zoom level")).to_have_text("156%")
    zoomed = phone_box.bounding_box()
    assert zoomed and zoomed["width"] == pytest.approx(box["width"] * 1.5625, rel=0.02), "the boxes zoom with the image"
    page.keyboard.press("0")
    expect(page.get_by_role("status", name="Zoom level")).to_have_text("100%")
    page.get_by_role("button", name="Zoom in").click()
    expect(page.get_by_role("status", name="Zoom level")).to_have_text("125%")
    page.get_by_role("button", name="Fit").click()
    expect(page.get_by_role("status", name="Zoom level")).to_have_text("100%")

    # A decision greys its box on the image at once.
    phone.get_by_label("Reason").fill("A shop's public number, not a person's")
    phone.get_by_role("button", name="Dismiss").click()
    expect(phone).to_contain_text("dismissed by rita")
    expect(marks).to_have_accessible_name(re.compile(rf"box {number}, phone number: [^;]*\(decided\)"))
    expect(marks).not_to_have_accessible_name(re.compile(r"face \(decided\)"))


def test_a_gif_that_is_also_javascript_never_runs_however_a_page_loads_it(page: Page, reviewer, world, contributor, sign_in):
    result = ingest(contributor, world.dataset, world.consent, SimpleUploadedFile("cat.gif", polyglot_gif(), "image/gif"))
    asset_id = result["accepted"][0]["asset_id"]
    sign_in(reviewer)
    page.goto(f"/review/assets/{asset_id}/")
    # It is real JavaScript: run on purpose (past the page's policy), it would set the flag.
    page.evaluate(polyglot_as_javascript())
    assert page.evaluate("window.pwned") == 1
    page.evaluate("delete window.pwned")

    for url in (f"/images/assets/{asset_id}/", f"/images/assets/{asset_id}/thumb/1024/"):
        with pytest.raises(Exception):  # noqa: B017 - Playwright's error: the script did not load
            page.add_script_tag(url=url)
        outcome = page.evaluate(
            """url => new Promise(done => {
                const script = document.createElement("script");
                script.src = url + "?again";
                script.onload = () => done("ran");
                script.onerror = () => done("refused");
                document.head.appendChild(script);
            })""",
            url,
        )
        assert outcome == "refused"
        assert page.evaluate("typeof window.pwned") == "undefined"

    # In a frame (refused: no page of ours may be framed) and opened on its own, it is an image.
    other = page.context.new_page()
    other.goto(f"/review/assets/{asset_id}/")
    other.evaluate(
        """url => new Promise(done => {
            const frame = document.createElement("iframe");
            frame.src = url;
            frame.onload = done;
            document.body.appendChild(frame);
            setTimeout(done, 2000);
        })""",
        f"/images/assets/{asset_id}/",
    )
    assert other.evaluate("typeof window.pwned") == "undefined"
    response = other.goto(f"/images/assets/{asset_id}/")
    assert response is not None and response.headers["content-type"] == "image/gif"
    assert other.evaluate("typeof window.pwned") == "undefined"
    assert other.evaluate("document.contentType") == "image/gif"
    other.close()
