from __future__ import annotations

import io
import json
import stat

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from auditing.models import ProtectedWork
from auditing.selectors import ReviewFilters, review_queue
from generation.output_index import output_index_forget
from generation.services.verification import verify_by_manifest, verify_image
from provenance.models import Asset, AssetStatus, DatasetMembership, Snapshot
from provenance.services.consent import consent_revoke
from provenance.services.snapshots import snapshot_create
from tests.support.pages import client


@pytest.fixture(autouse=True)
def _own_output_index():
    """The demo's output joins the in-memory fingerprint index: this test's alone."""
    output_index_forget()
    yield
    output_index_forget()


def load(*args: str) -> dict:
    out = io.StringIO()
    call_command("demo", "load", "--json", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


@pytest.mark.slow
def test_demo_load_twice_leaves_twelve_approved_assets(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"

    first_run = load()
    second_run = load("--url", "http://127.0.0.1:8123/")

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

    load()

    def mode(path) -> str:
        return oct(stat.S_IMODE(path.stat().st_mode))

    demo = settings.DATA_DIR / "demo"
    files = [
        demo / "consent.json",
        demo / "consent-form.pdf",
        demo / "demo-output.png",
        demo / "demo-output-stripped.png",
        *sorted((demo / "images").iterdir()),
    ]
    assert {mode(path) for path in files} == {"0o600"}
    assert {mode(path) for path in (settings.DATA_DIR, demo, demo / "images")} == {"0o700"}


@pytest.mark.slow
def test_the_demo_leaves_three_flagged_pictures_in_the_review_queue(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"

    load()

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


@pytest.mark.slow
def test_the_demo_holds_the_whole_chain_down_to_a_verifiable_output(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"

    first_run = load()
    second_run = load()

    snapshot = first_run["snapshot"]
    assert snapshot["status"] == "approved" and snapshot["asset_count"] == 12
    assert snapshot["approvals"] == ["demo-reviewer", "demo-reviewer-2"]
    assert first_run["model"] is not None and first_run["output"] is not None
    # Loading again trains and generates nothing more.
    assert (second_run["snapshot"], second_run["model"], second_run["output"]) == (
        first_run["snapshot"],
        first_run["model"],
        first_run["output"],
    )
    assert Snapshot.objects.filter(dataset__slug="demo-portraits").count() == 1
    files = first_run["files"]
    credentials = json.loads((settings.DATA_DIR / "demo-credentials.json").read_text())
    assert credentials["files"] == files
    signed = (settings.DATA_DIR / "demo" / "demo-output.png").read_bytes()
    stripped = (settings.DATA_DIR / "demo" / "demo-output-stripped.png").read_bytes()
    assert files == {
        "output": str(settings.DATA_DIR / "demo" / "demo-output.png"),
        "output_stripped": str(settings.DATA_DIR / "demo" / "demo-output-stripped.png"),
    }

    verdict = verify_image(signed)
    assert (verdict.valid, verdict.trusted, verdict.traced_by) == (True, True, "manifest")
    assert [link["type"] for link in verdict.chain] == ["output", "model", "base_model", "snapshot"]
    assert verdict.chain[-1]["id"] == snapshot["snapshot_id"]
    # The stripped copy has no manifest left, and is traced back to the same output.
    assert verify_by_manifest(stripped) is None
    recovered = verify_image(stripped)
    assert recovered.traced_by in {"watermark", "fingerprint"} and recovered.output_id == first_run["output"]["output_id"]
    # The demo contributor's "Was my image used?" finds a picture of theirs in it, with the model and its output.
    mountains = next(asset for asset in first_run["assets"] if asset["path"].endswith("09-mountains.jpg"))
    page = client(User.objects.get(username="demo-contributor")).get("/portal/check/", {"asset": mountains["asset_id"]})
    assert "<strong>included</strong>" in page.content.decode()
    assert "1 model was trained on it and made 1 image." in page.content.decode()


@pytest.mark.slow
def test_loading_the_demo_again_after_the_contributor_revoked_keeps_the_tainted_chain(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    first_run = load()
    contributor = User.objects.get(username="demo-contributor")
    consent_revoke(consent_id=first_run["consent_id"], actor=contributor, reason="the demo contributor withdrew")

    again = load()

    assert again["snapshot"]["snapshot_id"] == first_run["snapshot"]["snapshot_id"]
    assert again["snapshot"]["status"] == "tainted"
    assert again["output"] == first_run["output"] and again["files"] == first_run["files"]
    assert {asset["status"] for asset in again["assets"]} == {AssetStatus.WITHDRAWN}
