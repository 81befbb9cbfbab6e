"""The audit trail in a real browser: compliance opens the log, presses Verify chain, and the
job's page shows the verdict once a worker has run the check; axe-core finds nothing serious."""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from playwright.sync_api import Page, expect

from core.audit import audit_append
from core.background import background_run
from core.models import BackgroundJob, EventType

pytestmark = pytest.mark.browser


@pytest.fixture
def decisions(reviewer) -> None:
    with transaction.atomic():
        audit_append(
            actor=reviewer,
            event_type=EventType.FINDING_RESOLVED,
            subject=("finding", "7d9e5a44-0c3f-4d1e-9d0b-2f3f4f1a9b10"),
            details={"decision": "dismiss", "reason": "A scan of a printed photograph, not a person"},
        )
        audit_append(
            actor=reviewer,
            event_type=EventType.SNAPSHOT_STATUS_CHANGED,
            subject=("snapshot", "0b8f7f62-2c55-4f4e-8a0e-5c4b1c9e3d21"),
            details={"from": "in_review", "to": "approved", "reason": "approved by two reviewers"},
        )


def test_compliance_verifies_the_chain_from_the_audit_log(page: Page, compliance, decisions, sign_in, axe, screenshot):
    sign_in(compliance)
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()

    expect(page).to_have_url(re.compile("/auditlog/$"))
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    rows = page.get_by_role("row")
    expect(rows.nth(1)).to_contain_text("snapshot.status_changed")  # newest first
    expect(page.get_by_role("cell", name=re.compile("A scan of a printed photograph"))).to_be_visible()
    axe(page)
    screenshot(page, "auditlog")

    page.get_by_role("button", name="Verify chain").click()
    expect(page).to_have_url(re.compile(r"/tasks/[0-9a-f-]+/$"))
    expect(page.get_by_role("heading", name="Waiting for a worker to start")).to_be_visible()

    # The worker's part, in this thread: the page, polling, shows the outcome by itself.
    background_run(BackgroundJob.objects.get(kind="auditlog_verify").pk)

    verdict = page.get_by_role("status").filter(has_text="valid")
    expect(verdict).to_contain_text(re.compile(r"^\s*valid: all \d+ entries"))
    expect(page.get_by_text("invalid")).to_have_count(0)
    axe(page)
    screenshot(page, "auditlog-verified")
