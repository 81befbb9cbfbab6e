"""The portal's upload in a real browser: a contributor chooses 20 files (an opt-out image, a
document that is not an image and an empty file among them), picks the dataset and consent,
clicks Upload, watches the files go up and the batch being checked, then reads one row per
file; a dropped connection loses only the file in flight, which the page sends again. The same
upload without JavaScript ends on the same table."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page, Route, expect

from core.background import background_run
from core.models import BackgroundJob
from provenance.models import UploadedFile
from tests.support.portal_uploads import expected_reasons, mixed_batch

pytestmark = pytest.mark.browser


def choose(batch: dict[str, bytes]) -> list[dict]:
    return [{"name": name, "mimeType": "application/octet-stream", "buffer": data} for name, data in batch.items()]


def read_outcome(page: Page) -> dict[str, tuple[str, str]]:
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows.first).to_be_visible()
    found = {}
    for row in rows.all()[1:]:
        cells = [cell.inner_text().strip() for cell in row.get_by_role("cell").all()]
        found[row.get_by_role("rowheader").inner_text().strip()] = (cells[0], cells[1])
    return found


def finish_processing(page: Page) -> None:
    """What the worker does, once the page is on the upload's own address."""
    expect(page).to_have_url(re.compile(r"/portal/upload/[0-9a-f-]{36}/$"))
    background_run(BackgroundJob.objects.get(kind="portal_upload").pk)


def test_a_contributor_uploads_a_mixed_batch_and_reads_each_files_outcome(
    page: Page, world, contributor, sign_in, axe, screenshot
):
    batch = mixed_batch(20)
    dropped = {"photo-05.jpg": 0}

    def slow_or_dropped(route: Route) -> None:
        body = route.request.post_data_buffer or b""
        if b'name="name"\r\n\r\nphoto-05.jpg\r\n' in body and dropped["photo-05.jpg"] < 3:
            dropped["photo-05.jpg"] += 1
            route.abort("connectionreset")  # three tries, three dropped connections
            return
        time.sleep(0.15)  # slow enough to see the bar move
        route.continue_()

    page.route(re.compile(r"/portal/upload/[0-9a-f-]{36}/files/$"), slow_or_dropped)
    sign_in(contributor)
    page.goto("/portal/upload/")
    axe(page)
    screenshot(page, "portal-upload-form")

    page.get_by_label("Images").set_input_files(choose(batch))
    page.get_by_label("Dataset").select_option(index=0)
    page.get_by_label("Consent").select_option(index=0)
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_text(re.compile(r"\b([1-9]|1[0-8]) of 20 files sent"))).to_be_visible()
    expect(page.get_by_role("progressbar", name="Files sent so far")).to_be_visible()
    screenshot(page, "portal-upload-sending")
    expect(page.get_by_role("alert")).to_contain_text("1 file did not arrive (the connection dropped). The others are kept.")
    assert UploadedFile.objects.count() == 19
    axe(page)
    screenshot(page, "portal-upload-dropped")

    page.get_by_role("button", name="Send the missing files again").click()

    expect(page.get_by_role("progressbar", name="Files checked so far")).to_be_visible()
    expect(page.get_by_text("Waiting for a worker to start; 20 files received.")).to_be_visible()
    assert UploadedFile.objects.count() == 20  # the 19 that arrived were not sent twice
    screenshot(page, "portal-upload-processing")
    finish_processing(page)

    expect(page.get_by_role("heading", name="What happened to each file")).to_be_visible()
    outcome = read_outcome(page)
    assert len(outcome) == 20
    assert {name: reason for name, (word, reason) in outcome.items() if word == "refused"} == expected_reasons(batch)
    assert {word for name, (word, _) in outcome.items() if name not in expected_reasons(batch)} == {"accepted"}
    expect(page.get_by_role("row", name=re.compile("optout.jpg"))).to_contain_text("do-not-train signal")
    axe(page)
    screenshot(page, "portal-upload-outcome")


@pytest.fixture
def page_without_js(browser: Browser, live_server, contributor) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    web = Client()
    web.force_login(contributor)
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": web.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server.url}]
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_without_javascript_the_form_posts_every_file_and_ends_on_the_same_table(page_without_js: Page, world, axe, screenshot):
    page = page_without_js
    batch = mixed_batch(20, seed=700)
    page.goto("/portal/upload/")
    page.get_by_label("Images").set_input_files(choose(batch))
    page.get_by_label("Dataset").select_option(index=0)
    page.get_by_label("Consent").select_option(index=0)
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_role("progressbar", name="Files checked so far")).to_be_visible()
    finish_processing(page)
    page.reload()

    outcome = read_outcome(page)
    assert len(outcome) == 20
    assert {name: reason for name, (word, reason) in outcome.items() if word == "refused"} == expected_reasons(batch)
    screenshot(page, "portal-upload-outcome-nojs")


def test_more_files_than_one_upload_takes_is_said_on_the_page(page: Page, world, contributor, sign_in, settings, tab_to):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    sign_in(contributor)
    page.goto("/portal/upload/")
    page.get_by_label("Images").set_input_files(choose(mixed_batch(4, seed=800)))
    tab_to(page.get_by_role("button", name="Upload"))  # by keyboard
    page.keyboard.press("Enter")

    expect(page.get_by_role("alert")).to_contain_text("One upload takes at most 3 files")
    assert UploadedFile.objects.count() == 3  # kept, not processed: nothing half-stored
