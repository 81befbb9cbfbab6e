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


# A first load takes about a minute on the CPU (audits, training, generation): the tests share as
# few loads as they can, so one test reads everything a first and a second load leave behind.
@pytest.mark.slow
def test_demo_load_twice_builds_the_platform_once(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"

    first_run = load()
    second_run = load("--url", "http://127.0.0.1:8123/")

    # The pictures: fifteen ingested once, twelve approved, three left flagged.
    assert first_run["ingested"] == 15 and first_run["approved_now"] == 12 and first_run["audited_now"] == 3
    assert second_run["ingested"] == 0 and second_run["approved_now"] == 0 and second_run["audited_now"] == 0
    assert second_run["new_passwords_for"] == []
    assert second_run["consent_id"] == first_run["consent_id"]
    memberships = DatasetMembership.objects.filter(dataset__slug="demo-portraits")
    assert memberships.count() == 15
    assert Asset.objects.filter(memberships__in=memberships, status=AssetStatus.APPROVED).count() == 12
    assert Asset.objects.filter(memberships__in=memberships, status=AssetStatus.FLAGGED).count() == 3
    assert ProtectedWork.objects.count() == 1
    credentials_path = settings.DATA_DIR / "demo-credentials.json"
    credentials = json.loads(credentials_path.read_text())
    # The second load names where `make run PORT=8123` serves it, and keeps the passwords.
    assert credentials["url"] == "http://127.0.0.1:8123/"
    assert set(credentials["users"]) == {
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

    # The review queue holds the three flagged pictures, one per auditor.
    reviewer = User.objects.get(username="demo-reviewer")
    page = review_queue(user=reviewer, filters=ReviewFilters())
    by_name = {row.asset.original_name: row.auditors for row in page.rows}
    assert by_name == {
        "flagged-ai-generated.jpg": ["synthetic"],
        "flagged-geotagged.jpg": ["pii"],
        "flagged-gallery-copy.jpg": ["near_duplicate"],
    }

    # The chain: one approved snapshot of the twelve, one model, one output; loading again
    # trains and generates nothing more.
    snapshot = first_run["snapshot"]
    assert snapshot["status"] == "approved" and snapshot["asset_count"] == 12
    assert snapshot["approvals"] == ["demo-reviewer", "demo-reviewer-2"]
    assert Snapshot.objects.get(pk=snapshot["snapshot_id"]).exclusions.count() == 3
    assert first_run["model"] is not None and first_run["output"] is not None
    assert (second_run["snapshot"], second_run["model"], second_run["output"]) == (
        first_run["snapshot"],
        first_run["model"],
        first_run["output"],
    )
    assert Snapshot.objects.filter(dataset__slug="demo-portraits").count() == 1
    demo = settings.DATA_DIR / "demo"
    files = first_run["files"]
    assert credentials["files"] == files
    assert files == {"output": str(demo / "demo-output.png"), "output_stripped": str(demo / "demo-output-stripped.png")}

    # The signed output verifies as ours, and its stripped copy is traced back to it.
    signed = (demo / "demo-output.png").read_bytes()
    stripped = (demo / "demo-output-stripped.png").read_bytes()
    verdict = verify_image(signed)
    assert (verdict.valid, verdict.trusted, verdict.traced_by) == (True, True, "manifest")
    assert [link["type"] for link in verdict.chain] == ["output", "model", "base_model", "snapshot"]
    assert verdict.chain[-1]["id"] == snapshot["snapshot_id"]
    assert verify_by_manifest(stripped) is None
    recovered = verify_image(stripped)
    assert recovered.traced_by in {"watermark", "fingerprint"} and recovered.output_id == first_run["output"]["output_id"]

    # The demo contributor's "Was my image used?" finds a picture of theirs in it, with the model and its output.
    mountains = next(asset for asset in first_run["assets"] if asset["path"].endswith("09-mountains.jpg"))
    page = client(User.objects.get(username="demo-contributor")).get("/portal/check/", {"asset": mountains["asset_id"]})
    assert "<strong>included</strong>" in page.content.decode()
    assert "1 model was trained on it and made 1 image." in page.content.decode()

    # Every file the demo writes is readable by the platform only.
    def mode(path) -> str:
        return oct(stat.S_IMODE(path.stat().st_mode))

    written = [
        credentials_path,
        demo / "consent.json",
        demo / "consent-form.pdf",
        demo / "demo-output.png",
        demo / "demo-output-stripped.png",
        *sorted((demo / "images").iterdir()),
    ]
    assert {mode(path) for path in written} == {"0o600"}
    assert {mode(path) for path in (settings.DATA_DIR, demo, demo / "images")} == {"0o700"}


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
