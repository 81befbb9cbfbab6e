from __future__ import annotations

import io
import json
import stat

import pytest
from django.core.management import call_command

from provenance.models import Asset, AssetStatus, DatasetMembership


@pytest.mark.slow
def test_demo_load_twice_leaves_twelve_approved_assets(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"

    first, second = io.StringIO(), io.StringIO()
    call_command("demo", "load", "--json", stdout=first, stderr=io.StringIO())
    call_command("demo", "load", "--json", stdout=second, stderr=io.StringIO())
    first_run, second_run = json.loads(first.getvalue()), json.loads(second.getvalue())

    assert first_run["ingested"] == 12 and first_run["approved_now"] == 12
    assert second_run["ingested"] == 0 and second_run["approved_now"] == 0
    assert second_run["new_passwords_for"] == []
    assert second_run["consent_id"] == first_run["consent_id"]
    memberships = DatasetMembership.objects.filter(dataset__slug="demo-portraits")
    assert memberships.count() == 12
    assert Asset.objects.filter(memberships__in=memberships, status=AssetStatus.APPROVED).count() == 12
    credentials = settings.DATA_DIR / "demo-credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert set(json.loads(credentials.read_text())["users"]) == {
        "demo-contributor",
        "demo-reviewer",
        "demo-reviewer-2",
        "demo-engineer",
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
