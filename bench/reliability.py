#!/usr/bin/env python
"""Fault injection: how long the platform takes to bring every row to a final state after each
fault, and how many audit events were lost or recorded twice.

1. Runs the reliability suite (tests/reliability/test_faults*.py, the same scenarios as CI: a
   worker SIGKILLed mid-audit, mid-training and mid-generation on a private RabbitMQ node, that
   node restarted mid-batch, a private PostgreSQL restarted mid-ingest); each scenario writes its
   figures to a file named by RELIABILITY_REPORT_FILE.
2. The baseline, measured in the same run: the same 1,200-file ingest on a private PostgreSQL
   cluster with no fault, and the time a private RabbitMQ node takes to start.

Run: `.venv/bin/python bench/reliability.py [-k EXPR]` (EXPR: pytest's -k, to run a few scenarios).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import REPO, bench_line, print_table

from tests.support.private_services import private_postgres, private_rabbitmq
from tests.support.reliability import command_environment, manage_command, run_json, write_batch, write_ingest_consent

# The database-restart scenario's batch (tests/reliability/test_faults_database.py).
FILES = 4 * 250 + 200


def baseline_ingest_seconds(folder: Path) -> float:
    """`ingest` of the database-restart scenario's files on a fresh private cluster, no fault."""
    with private_postgres() as cluster:
        env = command_environment(database_url=cluster.url, data_dir=folder / "data", CLEANROOM_AUDIT_ON_INGEST="false")
        subprocess.run(manage_command("migrate", "-v0"), env=env, cwd=REPO, check=True)
        run_json(env, "contributor", "add", "carla@example.com", "--name", "Carla")
        run_json(env, "dataset", "create", "faces", "--scopes", "ai_training")
        photos, consent = write_batch(folder / "in", FILES), write_ingest_consent(folder / "consent")
        began = time.monotonic()
        done = run_json(env, "ingest", str(photos), "--dataset", "faces", "--contributor", "carla@example.com",
                        "--consent", str(consent))  # fmt: skip
        took = time.monotonic() - began
        if len(done["accepted"]) != FILES:
            raise SystemExit(f"baseline ingest accepted {len(done['accepted'])} of {FILES}")
        return took


def run_suite(report: Path, selection: str) -> int:
    env = {**os.environ, "RELIABILITY_REPORT_FILE": str(report)}
    files = sorted(str(path.relative_to(REPO)) for path in (REPO / "tests" / "reliability").glob("test_faults*.py"))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *files]
    if selection:
        command += ["-k", selection]
    return subprocess.run(command, env=env, cwd=REPO).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="selection", default="", help="pytest -k expression: run only these scenarios")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-reliability-") as scratch:
        folder = Path(scratch)
        baseline = baseline_ingest_seconds(folder / "baseline")
        with private_rabbitmq() as node:
            rabbit_start = node.started_in
        report = folder / "report.jsonl"
        status = run_suite(report, arguments.selection)
        records = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []

    print(f"\nbaseline (no fault): ingest of {FILES} files {baseline:.1f} s; private RabbitMQ node start {rabbit_start:.1f} s")
    rows = [
        [r["fault"], f"{r['recovery_seconds']:.1f}", r["bound"], r["lost"], r["duplicated"], r["chain_valid"]] for r in records
    ]
    print_table(["fault", "recovery s", "bound s", "lost", "duplicated", "chain valid"], rows)
    if status != 0:
        print(f"the reliability suite failed (exit {status}): figures above are those of the scenarios that got that far")
    print(bench_line("reliability.baseline.ingest_seconds", baseline, "s", "<=", 60))
    print(bench_line("reliability.baseline.rabbitmq_start_seconds", rabbit_start, "s", "<=", 30))
    for r in records:
        print(bench_line(f"reliability.{r['fault']}.recovery_seconds", r["recovery_seconds"], "s", "<=", r["bound"]))
        print(bench_line(f"reliability.{r['fault']}.lost_events", r["lost"], "count", "==", 0))
        print(bench_line(f"reliability.{r['fault']}.duplicated_events", r["duplicated"], "count", "==", 0))
    sys.exit(status)


if __name__ == "__main__":
    main()
