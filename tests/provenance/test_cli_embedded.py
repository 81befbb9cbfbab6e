"""The command-line contract, run as a user would: subprocesses on the embedded default
(SQLite + local files, no server), so this is also the smoke test of the embedded setup."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.provenance.factories import write_consent, write_image

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("embedded")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(CLEANROOM_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="config.settings.base", HF_HUB_OFFLINE="1")

    def run(*args: str, expect: int | None = 0, settings: dict[str, str] | None = None):
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**env, **(settings or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if expect is not None:
            assert done.returncode == expect, f"{args}: rc={done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def worker(settings: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "audit",
                "-c",
                "1",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env={**env, **(settings or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    run.worker = worker
    run("migrate", "-v0")
    return run


def as_json(done) -> dict:
    return json.loads(done.stdout)


def test_the_embedded_default_uses_sqlite_in_the_data_folder(cli):
    done = cli(
        "shell", "-v0", "-c", "from django.db import connection; print(connection.vendor, connection.settings_dict['NAME'])"
    )
    vendor, name = done.stdout.split()
    assert vendor == "sqlite" and name.endswith("cleanroom.sqlite3")


def test_a_whole_governance_session_through_the_contract(cli, tmp_path):
    assert as_json(cli("user", "add", "rita", "--role", "reviewer", "--json")) == {"username": "rita", "roles": ["reviewer"]}
    cli("user", "add", "ravi", "--role", "reviewer", "--email", "ravi@example.org", "--json")
    cli("user", "add", "mel", "--role", "ml_engineer", "--json")
    cli("user", "add", "carla", "--role", "contributor", "--json")
    contributor = as_json(cli("contributor", "add", "Carla@Example.com", "--name", "Carla", "--user", "carla", "--json"))
    assert contributor["email"] == "carla@example.com" and contributor["contributor_id"]
    dataset = as_json(cli("dataset", "create", "faces", "--scopes", "generative_training,ai_training", "--json"))
    assert dataset["slug"] == "faces" and dataset["scopes"] == ["ai_training", "generative_training"]

    consent = write_consent(tmp_path / "consent", contributor="carla@example.com")
    images = tmp_path / "images"
    for i in range(4):
        write_image(images / f"img{i}.jpg", seed=500 + i)
    (images / "notes.png").write_text("not an image")
    ingest = as_json(
        cli(
            "ingest",
            str(images),
            "--dataset",
            "faces",
            "--contributor",
            "carla@example.com",
            "--consent",
            str(consent),
            "--licence",
            "CC-BY-4.0",
            "--source-url",
            "https://example.com/gallery",
            "--json",
        )
    )
    assert len(ingest["accepted"]) == 4
    assert ingest["refused"] == [
        {"path": str(images / "notes.png"), "reason": "invalid_image", "detail": "content is not a recognisable image"}
    ]
    assert set(ingest["accepted"][0]) >= {"path", "asset_id", "sha256"}

    # Nothing is audited yet: a snapshot would be empty and is refused with exit 1.
    refused = cli("snapshot", "create", "--dataset", "faces", "--as", "mel", "--json", expect=1)
    assert as_json(refused)["code"] == "empty_snapshot"

    not_a_reviewer = cli(
        "asset",
        "review",
        ingest["accepted"][0]["asset_id"],
        "--as",
        "mel",
        "--decision",
        "approve",
        "--reason",
        "x",
        "--json",
        expect=1,
    )
    assert as_json(not_a_reviewer)["code"] == "permission_denied"
    # A worker on the embedded broker (files in the data folder, no server) audits them.
    worker = cli.worker()
    try:
        audited = as_json(cli("audit", "--dataset", "faces", "--wait", "--timeout", "90", "--json"))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert [asset["status"] for asset in audited["assets"]] == ["clear"] * 4
    for row in ingest["accepted"][:2]:
        reviewed = as_json(
            cli("asset", "review", row["asset_id"], "--as", "rita", "--decision", "approve", "--reason", "looked at it", "--json")
        )
        assert reviewed["status"] == "approved" and reviewed["sha256"] == row["sha256"]
    snapshot = as_json(cli("snapshot", "create", "--dataset", "faces", "--as", "mel", "--json"))
    assert snapshot["asset_count"] == 4 and len(snapshot["merkle_root"]) == 64 and snapshot["excluded"] == []
    first = as_json(cli("snapshot", "approve", snapshot["snapshot_id"], "--as", "rita", "--json"))
    assert first["status"] == "in_review" and first["approvals"] == ["rita"]
    again = cli("snapshot", "approve", snapshot["snapshot_id"], "--as", "rita", "--json", expect=1)
    assert "error" in as_json(again)
    second = as_json(cli("snapshot", "approve", snapshot["snapshot_id"], "--as", "ravi", "--json"))
    assert second == {"snapshot_id": snapshot["snapshot_id"], "status": "approved", "approvals": ["rita", "ravi"]}

    proof = as_json(cli("snapshot", "prove", snapshot["snapshot_id"], str(images / "img2.jpg"), "--json"))
    assert proof["included"] is True
    assert proof["sha256"] == hashlib.sha256((images / "img2.jpg").read_bytes()).hexdigest()
    assert {"leaf_hash", "merkle_root", "proof"} <= set(proof)
    stranger = write_image(tmp_path / "stranger.jpg", seed=999)
    not_in = cli("snapshot", "prove", snapshot["snapshot_id"], str(stranger), "--json", expect=1)
    assert as_json(not_in)["included"] is False and "not included" in as_json(not_in)["error"]

    revoked = as_json(cli("consent", "revoke", ingest["consent_id"], "--as", "carla", "--reason", "changed my mind", "--json"))
    assert revoked["tainted_snapshots"] == [snapshot["snapshot_id"]]
    assert sorted(revoked["withdrawn_assets"]) == sorted(r["asset_id"] for r in ingest["accepted"])
    tainted = cli("snapshot", "approve", snapshot["snapshot_id"], "--as", "ravi", "--json", expect=1)
    assert as_json(tainted)["code"] == "snapshot_tainted"

    chain = as_json(cli("auditlog", "verify", "--json"))
    assert chain["valid"] is True and chain["events"] > 20 and chain["first_bad_event"] is None


def test_faces_are_audited_on_the_embedded_default_and_a_likeness_consent_makes_them_informational(cli, tmp_path):
    # The likeness rule locks the consent row on PostgreSQL; SQLite has no such lock and once
    # answered a syntax error here, so every image with a face failed its audit.
    from skimage import data

    photo = tmp_path / "portrait" / "astronaut.png"
    photo.parent.mkdir()
    Image.fromarray(data.astronaut()).resize((256, 256)).save(photo)
    faces_only = {"CLEANROOM_AUDITORS": "auditing.auditors.pii.PiiAuditor", "CLEANROOM_PII_OCR": "false"}
    cli("contributor", "add", "pat@example.com", "--name", "Pat", "--json")
    cli("dataset", "create", "portraits", "--scopes", "ai_training", "--json")
    plain = write_consent(tmp_path / "plain", contributor="pat@example.com", scopes=["ai_training"])
    likeness = write_consent(
        tmp_path / "likeness",
        contributor="pat@example.com",
        scopes=["ai_training", "likeness"],
        depicted_persons=[{"name": "Eileen Collins", "scopes": ["likeness"], "evidence": "evidence.pdf"}],
    )
    ingested = {}
    for name, consent in (("plain", plain), ("likeness", likeness)):
        copy = tmp_path / name / "astronaut.png"
        copy.write_bytes(photo.read_bytes() + name.encode())  # the same pixels, two files
        ingest = cli(
            "ingest", str(copy), "--dataset", "portraits", "--contributor", "pat@example.com", "--consent", str(consent), "--json"
        )
        ingested[name] = as_json(ingest)["accepted"][0]["asset_id"]
    worker = cli.worker(faces_only)
    try:
        audited = as_json(cli("audit", "--dataset", "portraits", "--wait", "--timeout", "90", "--json", settings=faces_only))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    by_id = {asset["asset_id"]: asset for asset in audited["assets"]}
    faces = {
        name: [f["status"] for f in by_id[asset_id]["findings"] if f["code"].startswith("pii.face")]
        for name, asset_id in ingested.items()
    }
    assert faces["plain"] and set(faces["plain"]) == {"open"} and by_id[ingested["plain"]]["status"] == "flagged"
    assert faces["likeness"] and set(faces["likeness"]) == {"informational"}


def test_refused_requests_exit_1_with_an_error_in_the_json(cli, tmp_path):
    consent = write_consent(tmp_path, contributor="nobody@example.com")
    for args, code in [
        (
            ("ingest", str(tmp_path), "--dataset", "no-such", "--contributor", "nobody@example.com", "--consent", str(consent)),
            "unknown_dataset",
        ),
        (("snapshot", "approve", "not-a-uuid", "--as", "nobody"), "unknown_user"),
        (("consent", "revoke", "00000000-0000-0000-0000-000000000000", "--as", "nobody", "--reason", "x"), "unknown_user"),
    ]:
        done = cli(*args, "--json", expect=1)
        document = json.loads(done.stdout)
        assert document["code"] == code and document["error"]
        assert done.stdout.count("\n") <= 1  # exactly one JSON document


def test_an_unreadable_consent_file_refuses_the_request(cli, tmp_path):
    cli("contributor", "add", "dora@example.com", "--name", "Dora", "--json")
    cli("dataset", "create", "misc", "--scopes", "ai_training", "--json")
    (tmp_path / "consent.json").write_text("{not json")
    done = cli(
        "ingest",
        str(tmp_path),
        "--dataset",
        "misc",
        "--contributor",
        "dora@example.com",
        "--consent",
        str(tmp_path / "consent.json"),
        "--json",
        expect=1,
    )
    assert json.loads(done.stdout)["code"] == "invalid_consent"
    missing = cli(
        "ingest",
        str(tmp_path),
        "--dataset",
        "misc",
        "--contributor",
        "dora@example.com",
        "--consent",
        str(tmp_path / "absent.json"),
        "--json",
        expect=1,
    )
    assert json.loads(missing.stdout)["code"] == "invalid_consent"


@pytest.mark.parametrize(
    "args",
    [
        ("ingest", "x.jpg", "--contributor", "a@b.c", "--consent", "c.json"),  # --dataset missing
        ("snapshot", "frobnicate", "--json"),
        ("snapshot", "approve", "--json"),
        ("dataset", "create", "x", "--scopes", "ai_trainin", "--json"),
        ("user", "add", "x", "--role", "wizard", "--json"),
        ("no-such-command",),
    ],
)
def test_usage_errors_exit_2_with_usage_on_stderr(cli, args):
    done = cli(*args, expect=2)
    assert done.stdout == ""
    assert "usage" in done.stderr.lower() or "unknown command" in done.stderr.lower()
