"""PostgreSQL restarted (`pg_ctl restart -m fast`) while `ingest` records a batch of 1,200 files.

On its own private cluster (the shared one on :5432 serves every other test): the ingest must
not crash on the cut connection. A group of files cut off mid-transaction rolled back whole and
is recorded again once the database answers (core/db.py), so every file is reported exactly
once, a re-run answers `duplicate` for each, nothing is half-written (every asset's blob exists,
every blob belongs to an asset or a consent's evidence), and the audit log is whole."""

from __future__ import annotations

import json
import subprocess
import time

import psycopg
import pytest

from provenance.services.ingest import FLUSH_EVERY
from tests.support.private_services import PostgresCluster, private_postgres
from tests.support.reliability import (
    ROOT,
    command_environment,
    count_events,
    manage_command,
    report,
    run_json,
    write_batch,
    write_ingest_consent,
)

pytestmark = pytest.mark.slow
# The ingest commits a group at the latest every FLUSH_EVERY files, so with four groups' worth
# the restart (as soon as the first group is visible) comes mid-batch however fast the machine:
# with 200 files a quiet machine recorded them all in one group before the restart.
FILES = 4 * FLUSH_EVERY + 200
RECOVERY_BOUND_SECONDS = 60


def query(cluster: PostgresCluster, sql: str) -> list[tuple]:
    with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname="postgres") as conn:
        return conn.execute(sql).fetchall()


def asset_count(cluster: PostgresCluster) -> int:
    try:
        return int(query(cluster, "SELECT count(*) FROM provenance_asset")[0][0])
    except psycopg.OperationalError:
        return 0


@pytest.fixture
def cluster(tmp_path) -> PostgresCluster:
    with private_postgres() as cluster:
        yield cluster


def test_an_ingest_survives_a_database_restart_and_a_rerun_finds_every_file_recorded_once(cluster, tmp_path):
    data = tmp_path / "data"
    env = command_environment(database_url=cluster.url, data_dir=data, CLEANROOM_AUDIT_ON_INGEST="false")
    subprocess.run(manage_command("migrate", "-v0"), env=env, cwd=ROOT, check=True, timeout=300)
    assert run_json(env, "contributor", "add", "carla@example.com", "--name", "Carla")["_rc"] == 0
    assert run_json(env, "dataset", "create", "faces", "--scopes", "ai_training")["_rc"] == 0
    photos, consent = write_batch(tmp_path / "in", FILES), write_ingest_consent(tmp_path / "consent")
    ingest = ["ingest", str(photos), "--dataset", "faces", "--contributor", "carla@example.com", "--consent", str(consent)]

    with (tmp_path / "ingest.out").open("w") as out, (tmp_path / "ingest.err").open("w") as err:
        started = time.monotonic()
        process = subprocess.Popen(manage_command(*ingest, "--json"), env=env, cwd=ROOT, stdout=out, stderr=err)
        while asset_count(cluster) == 0 and process.poll() is None:
            time.sleep(0.05)
        recorded_before = asset_count(cluster)
        restarted_at = time.monotonic()
        restart_took = cluster.restart()
        process.wait(timeout=300)
        took, recovered = time.monotonic() - started, time.monotonic() - restarted_at
    stderr = (tmp_path / "ingest.err").read_text()
    first = json.loads((tmp_path / "ingest.out").read_text() or "{}")

    reconnects = stderr.count("connection was lost")
    print(f"PostgreSQL restarted after {recorded_before}/{FILES} assets (restart {restart_took:.1f} s); ingest ended "
          f"{took:.1f} s after it began, {recovered:.1f} s after the restart; reconnects: {reconnects}")  # fmt: skip
    assert 0 < recorded_before < FILES, "the restart must come mid-batch"
    assert process.returncode == 0, stderr[-4000:]
    assert "connection was lost" in stderr  # it was cut, and rode it out
    reported = [item["path"] for item in first["accepted"] + first["refused"]]
    assert sorted(reported) == sorted(str(p) for p in photos.iterdir())  # every file once, no more
    assert recovered < RECOVERY_BOUND_SECONDS

    again = run_json(env, *ingest)
    assert {item["reason"] for item in again["refused"]} <= {"duplicate"}
    assert len(again["refused"]) == len(first["accepted"]) and len(again["accepted"]) == len(first["refused"])

    assets = {sha for (sha,) in query(cluster, "SELECT sha256 FROM provenance_asset")}
    evidence = {sha for (sha,) in query(cluster, "SELECT sha256 FROM provenance_evidencedocument")}
    blobs = {path.name for path in (data / "blobs").glob("??/??/*") if path.is_file()}
    assert len(assets) == FILES
    assert assets <= blobs, "an asset row without its blob"
    assert blobs <= assets | evidence, "a blob no row refers to"
    events = query(cluster, "SELECT event_type, subject_id FROM core_auditevent WHERE event_type = 'asset.ingested'")
    asset_ids = [str(pk) for (pk,) in query(cluster, "SELECT id FROM provenance_asset")]
    counted = count_events([("asset.ingested", pk) for pk in asset_ids], events,
                           chain_valid=run_json(env, "auditlog", "verify")["valid"],
                           events=int(query(cluster, "SELECT count(*) FROM core_auditevent")[0][0]))  # fmt: skip
    print(f"database restart: {counted.summary()}")
    report("postgres_restart_mid_ingest", recovery_seconds=recovered, bound=RECOVERY_BOUND_SECONDS, counted=counted, files=FILES,
           restart_seconds=restart_took, reconnects=reconnects)  # fmt: skip
    assert (counted.lost, counted.duplicated, counted.chain_valid) == (0, 0, True)
    seqs = [seq for (seq,) in query(cluster, "SELECT seq FROM core_auditevent ORDER BY seq")]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # contiguous: no event lost from the chain
