#!/usr/bin/env python
"""Load: the verify API, the review queue page and the ingest API under 10, 50 and 100
concurrent users, against gunicorn with the production settings on loopback (issue 15).

A fresh PostgreSQL database `cleanroom_bench_load` is seeded with a world: the signing
identity (`pki init`: verify needs its trust anchors), a reviewer who signs
in through the log-in form, a contributor with an API token and a consent, a dataset, and
--assets flagged assets with two open findings each (bulk-made as bench/review_ui.py makes them)
for the queue. gunicorn (2 workers, config.settings.production, one trusted proxy) serves it;
locust (bench/locustfile.py, its own process) runs each concurrency for --seconds, every user
from its own client address, a quarter of them on each endpoint and a quarter fetching a static
file: the baseline, the machine's floor at the same concurrency. Then the rate-limit run: --hammer
users verifying from one address, beyond the verify limit (CLEANROOM_VERIFY_THROTTLE, 30/minute
by default): its answers must be 429s, never 5xx.

Prints a table (p50/p95/p99 ms, requests, errors per endpoint and concurrency) and
`BENCH load.<endpoint>.u<N>.p95_ms` / `.errors` lines, then the hammer run's 429 and other
error counts.

Run: `.venv/bin/python bench/load.py [--users 10,50,100] [--seconds 20] [--assets 300]`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, bench_line, postgres_drop, postgres_recreate, print_table, run_worker

PG_DATABASE = "cleanroom_bench_load"
ENDPOINTS = ["verify", "review", "ingest", "baseline"]
P95_TARGET_MS = 1000


def seed(assets: int) -> dict:
    """Inside the worker: the world the users need; returns what the locustfile is told."""
    from _common import django_setup

    django_setup()
    from review_ui import _make_data

    from core.roles import Role
    from core.tokens import token_issue
    from core.users import user_add
    from provenance.services.contributors import contributor_add
    from provenance.services.datasets import dataset_create, dataset_enrol
    from provenance.services.pki import pki_init

    pki_init()  # the organisation's identity: verify reads its trust anchors
    password = secrets.token_urlsafe(18)
    reviewer = user_add(username="rita", role=Role.REVIEWER)
    reviewer.set_password(password)
    reviewer.save(update_fields=["password"])
    carla = user_add(username="carla", role=Role.CONTRIBUTOR)
    # The contributor _make_data hangs its assets and consent on, linked to carla's account.
    contributor = contributor_add(email="bench@example.org", name="Bench Contributor", username="carla")
    flagged = _make_data(assets)
    dataset = dataset_create(slug="load", scopes=["ai_training"])
    dataset_enrol(dataset=dataset, contributor=contributor)
    return {
        "LOAD_CONTRIBUTOR_TOKEN": token_issue(user=carla, actor=carla).key,
        "LOAD_CONSENT_ID": str(flagged[0].consent_id),
        "LOAD_DATASET": "load",
        "LOAD_REVIEWER": "rita",
        "LOAD_REVIEWER_PASSWORD": password,
    }


def locust(base_url: str, users: int, seconds: int, csv_prefix: Path, env: dict[str, str]) -> dict[str, dict]:
    """One headless locust run; its stats by request name, and its failures."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "locust"), "-f", str(REPO / "bench" / "locustfile.py"), "--headless",
         "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", base_url, "--csv", str(csv_prefix),
         "--only-summary", "--stop-timeout", "10"],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=seconds + 120,
    )  # fmt: skip
    if not Path(f"{csv_prefix}_stats.csv").exists():
        raise SystemExit(f"locust wrote no statistics (exit {done.returncode}):\n{done.stderr[-3000:]}")
    with open(f"{csv_prefix}_stats.csv") as file:
        stats = {row["Name"]: row for row in csv.DictReader(file)}
    with open(f"{csv_prefix}_failures.csv") as file:
        failures = list(csv.DictReader(file))
    return {"stats": stats, "failures": failures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="10,50,100")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--assets", type=int, default=300)
    parser.add_argument("--hammer", type=int, default=10, help="users verifying from one address")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(seed(args.assets)))
        return 0

    sys.path.insert(0, str(REPO))
    from tests.support.gunicorn import gunicorn_server, hashed_static_path, production_environment

    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-load-") as temporary:
        root = Path(temporary)
        database_url = postgres_recreate(PG_DATABASE)
        try:
            world = run_worker(Path(__file__), ["--assets", str(args.assets)], database_url=database_url, data_dir=root)
            env = production_environment(root, database_url, CLEANROOM_TRUSTED_PROXIES="1")
            rows, lines = [], []
            with gunicorn_server(env, root) as base_url:
                world["LOAD_STATIC_PATH"] = hashed_static_path(root)
                for users in [int(n) for n in args.users.split(",")]:
                    run = locust(base_url, users, args.seconds, root / f"u{users}", world)
                    for endpoint in ENDPOINTS:
                        row = run["stats"].get(endpoint)
                        if row is None:
                            raise SystemExit(f"no {endpoint} requests at {users} users: {run['failures']}")
                        errors = int(row["Failure Count"])
                        p50, p95, p99 = (float(row[p]) for p in ("50%", "95%", "99%"))
                        rows.append(
                            [endpoint, users, int(row["Request Count"]), f"{p50:.0f}", f"{p95:.0f}", f"{p99:.0f}", errors]
                        )
                        if endpoint != "baseline":
                            lines.append(bench_line(f"load.{endpoint}.u{users}.p95_ms", p95, "ms", "<=", P95_TARGET_MS))
                            lines.append(bench_line(f"load.{endpoint}.u{users}.errors", errors, "count", "==", 0))
                        else:
                            lines.append(f"baseline (static file) at {users} users: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
                    for failure in run["failures"]:
                        print(
                            f"u{users} failure: {failure['Name']}: {failure['Error']} x{failure['Occurrences']}", file=sys.stderr
                        )
                hammer = locust(base_url, args.hammer, args.seconds, root / "hammer", {**world, "LOAD_HAMMER": "1"})
        finally:
            postgres_drop(PG_DATABASE)

    print()
    print_table(["endpoint", "users", "requests", "p50 ms", "p95 ms", "p99 ms", "errors"], rows)
    print()
    total = int(hammer["stats"]["verify"]["Request Count"])
    # locust writes a failure as CatchResponseError('<status> <code>') (bench/locustfile.py).
    limited = sum(int(f["Occurrences"]) for f in hammer["failures"] if "'429 " in f["Error"])
    others = sum(int(f["Occurrences"]) for f in hammer["failures"] if "'429 " not in f["Error"])
    print(f"rate limit: {args.hammer} users verifying from one address for {args.seconds} s: {total} requests, "
          f"{limited} answered 429, {others} other errors")  # fmt: skip
    for failure in hammer["failures"]:
        if "'429 " not in failure["Error"]:
            print(f"hammer failure: {failure['Error']} x{failure['Occurrences']}", file=sys.stderr)
    print()
    for line in lines:
        print(line)
    print(bench_line("load.verify_hammer.throttled", limited, "count", ">", 0))
    print(bench_line("load.verify_hammer.other_errors", others, "count", "==", 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
