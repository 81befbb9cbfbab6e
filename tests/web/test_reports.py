"""The Reports page in a real browser: compliance opens it from the navigation, downloads a
snapshot's CSV with one click and finds a row per image in it; axe-core finds nothing serious."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from tests.support.report_worlds import HOSTILE_COLLECTION, report_snapshot

pytestmark = pytest.mark.browser


def test_compliance_downloads_a_snapshots_csv_from_the_reports(
    page: Page, settings, contributor, reviewer, second_reviewer, ml_engineer, compliance, sign_in, axe, screenshot
):
    snapshot = report_snapshot(settings, contributor, reviewer, second_reviewer, ml_engineer)
    sign_in(compliance)
    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    row = page.get_by_role("row").filter(has_text=str(snapshot.pk)[:8])
    for label in ("CSV", "JSON", "PDF", "Croissant", "Compliance pack"):
        expect(row.get_by_role("link", name=label, exact=True)).to_be_visible()
    axe(page)
    screenshot(page, "reports")

    with page.expect_download() as downloading:
        row.get_by_role("link", name="CSV", exact=True).click()
    download = downloading.value
    assert download.suggested_filename == f"cleanroom-snapshot-{snapshot.pk}.csv"
    with open(download.path(), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    members = [r for r in rows if r["record"] == "member"]
    assert [int(r["leaf_index"]) for r in members] == list(range(snapshot.asset_count))
    assert {r["snapshot_status"] for r in rows} == {"approved"}
    assert "'" + HOSTILE_COLLECTION in {r["source_collection"] for r in members}
