from __future__ import annotations

import io
import json
import stat

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from auditing.models import ProtectedWork
from auditing.selectors import ReviewFilters, review_queue
from provenance.models import Asset, AssetStatus, DatasetMembership
from provenance.services.snapshots import snapshot_create


@pytest.mark.slow
def test_demo_load_twice_leaves_twelve_approved_assets(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"

    first, second = io.StringIO(), io.StringIO()
    call_command("demo", "load", "--json", stdout=first, stderr=io.StringIO())
    call_command("demo", "load", "--json", "--url", "http://127.0.0.1:8123/", stdout=second, stderr=io.StringIO())
    first_run, second_run = json.loads(first.getvalue()), json.loads(second.getvalue())

    assert first_run["ingested"] == 15 and first_run["approved_now"] == 12 and first_run["audited_now"] == 3
    assert second_run["ingested"] == 0 and second_run["approved_now"] == 0 and second_run["audited_now"] == 0
    assert second_run["new_passwords_for"] == []
    assert second_run["consent_id"] == first_run["consent_id"]
    memberships = DatasetMembership.objects.filter(dataset__slug="demo-portraits")
    assert memberships.count() == 15
    assert Asset.objects.filter(memberships__in=memberships, status=AssetStatus.APPROVED).count() == 12
    assert Asset.objects.filter(memberships__in=memberships, status=AssetStatus.FLAGGED).count() == 3
    assert ProtectedWork.objects.count() == 1
    credentials = settings.DATA_DIR / "demo-credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    # The second load names where `make run PORT=8123` serves it, and keeps the passwords.
    assert json.loads(credentials.read_text())["url"] == "http://127.0.0.1:8123/"
    assert set(json.loads(credentials.read_text())["users"]) == {
        "demo-contributor",
        "demo-reviewer",
        "demo-reviewer-2",
        "demo-engineer",
        "demo-compliance",
        "demo-operator",
        "demo-product",
    }
    # The chain's prerequisites: a signing identity, and a tiny base model both reviewers approved.
    assert first_run["signing_identity"]["created"] is True and second_run["signing_identity"]["created"] is False
    assert first_run["signing_identity"]["anchor_fingerprint"] == second_run["signing_identity"]["anchor_fingerprint"]
    assert first_run["base_model"] == second_run["base_model"]
    assert first_run["base_model"]["status"] == "approved"


@pytest.mark.slow
def test_the_demo_files_are_readable_by_the_platform_only(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"

    call_command("demo", "load", "--json", stdout=io.StringIO(), stderr=io.StringIO())

    def mode(path) -> str:
        return oct(stat.S_IMODE(path.stat().st_mode))

    demo = settings.DATA_DIR / "demo"
    files = [demo / "consent.json", demo / "consent-form.pdf", *sorted((demo / "images").iterdir())]
    assert {mode(path) for path in files} == {"0o600"}
    assert {mode(path) for path in (settings.DATA_DIR, demo, demo / "images")} == {"0o700"}


@pytest.mark.slow
def test_the_demo_leaves_three_flagged_pictures_in_the_review_queue(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"

    call_command("demo", "load", "--json", stdout=io.StringIO(), stderr=io.StringIO())

    reviewer = User.objects.get(username="demo-reviewer")
    page = review_queue(user=reviewer, filters=ReviewFilters())
    by_name = {row.asset.original_name: row.auditors for row in page.rows}
    assert by_name == {
        "flagged-ai-generated.jpg": ["synthetic"],
        "flagged-geotagged.jpg": ["pii"],
        "flagged-gallery-copy.jpg": ["near_duplicate"],
    }
    # A snapshot of the demo dataset still builds, from the twelve approved pictures alone.
    snapshot = snapshot_create(dataset_slug="demo-portraits", actor=User.objects.get(username="demo-engineer"))
    assert snapshot.asset_count == 12 and snapshot.exclusions.count() == 3
