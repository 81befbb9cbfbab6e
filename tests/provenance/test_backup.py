"""`backup` and `restore` end to end: a governed world with an approved snapshot is backed up
(pg_dump), restored by a fresh process into a fresh, empty PostgreSQL database and a fresh data
folder, and checked; then the restored copy is tampered with and the checks say what broke."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from core.storage import blob_name
from tests.support.worlds import approved_snapshot
from tests.web_process import ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _server_url(database: str) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database}"


@pytest.fixture
def empty_database() -> Iterator[str]:
    name = f"cleanroom_restore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_server_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(_server_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _cleanroom(*arguments: str, database: str, data_dir: Path) -> tuple[int, dict]:
    """`manage.py …` in a fresh process pointed at another database and data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    env.update(DATABASE_URL=_server_url(database), CLEANROOM_DATA_DIR=str(data_dir))
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    done = subprocess.run(
        [sys.executable, "manage.py", *arguments, "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    return done.returncode, json.loads(done.stdout)


def test_a_backup_restores_into_an_empty_database_and_its_checks_catch_tampering(
    ml_engineer, reviewer, second_reviewer, tmp_path, empty_database
):
    governed = approved_snapshot(ml_engineer, reviewer, second_reviewer, count=3)
    out = StringIO()
    call_command("backup", "--output", str(tmp_path / "backup"), "--with-blobs", "--json", stdout=out)
    taken = json.loads(out.getvalue())
    assert set(taken) == {"path", "database", "blobs", "audit_events", "sha256"}
    assert taken["database"] == "postgresql" and taken["audit_events"] > 0
    lines = [json.loads(line) for line in (tmp_path / "backup" / "blobs.jsonl").read_text().splitlines()]
    assert {asset.sha256 for asset in governed.assets} <= {line["sha256"] for line in lines}
    assert taken["blobs"] == len(lines)
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["database"]["sha256"] == taken["sha256"] and manifest["audit_head"]["seq"] == taken["audit_events"]

    fresh = tmp_path / "fresh-data"
    code, restored = _cleanroom("restore", str(tmp_path / "backup"), database=empty_database, data_dir=fresh)
    assert code == 0, restored
    assert restored == {
        "restored": True,
        "missing_blobs": [],
        "auditlog_valid": True,
        "snapshots_checked": 1,
        "snapshots_bad": [],
    }
    assert (fresh / "blobs" / blob_name(governed.assets[0].sha256)).read_bytes()

    code, again = _cleanroom("restore", str(tmp_path / "backup"), database=empty_database, data_dir=fresh)
    assert code == 1 and again["code"] == "database_not_empty" and "restore into an empty one" in again["error"]

    lost = governed.assets[1].sha256
    (fresh / "blobs" / blob_name(lost)).unlink()
    with psycopg.connect(_server_url(empty_database), autocommit=True) as restored_db:
        restored_db.execute("UPDATE core_auditevent SET actor = 'mallory' WHERE seq = 2")
        restored_db.execute("UPDATE provenance_snapshot SET merkle_root = repeat('0', 64)")
    code, checked = _cleanroom("restore", str(tmp_path / "backup"), "--check", database=empty_database, data_dir=fresh)
    assert code == 1
    assert checked["missing_blobs"] == [lost]
    assert checked["auditlog_valid"] is False
    assert checked["snapshots_bad"] == [str(governed.snapshot.pk)]
    assert "blob(s) missing or altered" in checked["error"] and "audit log" in checked["error"]


def test_restore_refuses_a_folder_that_is_not_a_backup(tmp_path):
    out = StringIO()
    with pytest.raises(CommandError, match="is not a backup folder") as refused:
        call_command("restore", str(tmp_path), "--json", stdout=out)
    assert refused.value.returncode == 1
    assert json.loads(out.getvalue())["code"] == "backup_corrupt"
