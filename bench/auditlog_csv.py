#!/usr/bin/env python
"""The audit trail page and its decisions CSV at 100,000 decisions (issue 11).

On PostgreSQL (a fresh database `cleanroom_bench_auditlog`, dropped and created each run):

- a hash chain of 120,000 events made directly with bulk_create (hashes computed as
  core.audit does, so the chain verifies): 100,000 decisions (finding resolutions, asset
  reviews, snapshot status changes, each with a reason) among 20,000 ingest events;
- the decisions CSV streamed through the view with Django's test Client signed in as
  compliance, every chunk consumed: the whole run's seconds (target < 10 s);
- `/auditlog/` first page, a deep page (the events before seq 1,000, what some 2,400 "Older
  entries" presses reach) and a page filtered by event type and by actor: p50 and p95;
- the baseline measured in the same run: the same 100,000 rows read with values_list and no
  CSV, a plain `SELECT 1` and the home page (a trivial template, same middleware and session).

Run: `.venv/bin/python bench/auditlog_csv.py [--decisions N] [--requests N] [--profile]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    bench_line,
    django_setup,
    maybe_profile,
    percentiles,
    postgres_drop,
    postgres_recreate,
    print_table,
    run_worker,
    time_get,
)

PG_DATABASE = "cleanroom_bench_auditlog"
CSV_TARGET_S = 10.0
PAGE_TARGET_MS = 300.0
BULK_BATCH = 5000
ACTORS = ("rita", "ravi", "rosa", "ruth")
DEEP_BEFORE = 1000


def _make_chain(decisions: int) -> int:
    """`decisions` decision events among one ingest event per five; returns the events made."""
    from django.db import transaction
    from django.utils import timezone

    from core.audit import GENESIS_HASH, event_hash
    from core.models import AuditChainHead, AuditEvent, EventType

    others = decisions // 5
    total = decisions + others
    start = timezone.now() - timedelta(seconds=total)
    prev_hash, batch = GENESIS_HASH, []
    with transaction.atomic():
        for seq in range(1, total + 1):
            actor = ACTORS[seq % len(ACTORS)]
            if seq % 6 == 0:
                event_type, subject_type, details = EventType.ASSET_INGESTED, "asset", {"sha256": f"{seq:064x}"}
                actor = "system"
            elif seq % 3 == 0:
                event_type, subject_type = EventType.ASSET_REVIEWED, "asset"
                details = {"decision": "reject", "reason": "=no consent for this use"}
            elif seq % 3 == 1:
                event_type, subject_type = EventType.FINDING_RESOLVED, "finding"
                details = {"asset_id": f"{seq:032x}", "code": "face", "decision": "dismiss", "reason": "not a person"}
            else:
                event_type, subject_type = EventType.SNAPSHOT_STATUS_CHANGED, "snapshot"
                details = {"from": "in_review", "to": "approved", "reason": "two reviewers approved"}
            event = AuditEvent(
                seq=seq,
                created_at=start + timedelta(seconds=seq),
                actor=actor,
                event_type=str(event_type),
                subject_type=subject_type,
                subject_id=f"{seq:032x}",
                details=details,
                prev_hash=prev_hash,
            )
            event.hash = prev_hash = event_hash(
                seq=seq,
                created_at=event.created_at,
                actor=event.actor,
                event_type=event.event_type,
                subject_type=event.subject_type,
                subject_id=event.subject_id,
                details=event.details,
                prev_hash=event.prev_hash,
            )
            batch.append(event)
            if len(batch) == BULK_BATCH:
                AuditEvent.objects.bulk_create(batch)
                batch = []
        AuditEvent.objects.bulk_create(batch)
        AuditChainHead.objects.update_or_create(pk=1, defaults={"seq": total, "hash": prev_hash})
    return total


def worker(decisions: int, requests: int, profile: bool) -> dict:
    django_setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from core.auditlog_selectors import DECISION_TYPES, AuditFilters, decision_rows
    from core.models import AuditEvent, EventType
    from core.roles import Role
    from core.users import user_add

    setup_test_environment()  # the test Client's host, as `manage.py test` would allow it
    result: dict = {}
    started = time.perf_counter()
    result["events"] = _make_chain(decisions)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load
    result["make_data_s"] = time.perf_counter() - started

    compliance = user_add(username="bench-compliance", role=Role.COMPLIANCE)
    client = Client()
    client.force_login(compliance)
    timings: dict[str, tuple[float, float]] = {}

    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        samples.append((time.perf_counter() - started) * 1000)
    timings["baseline_select_1"] = percentiles(samples)
    timings["baseline_home_page"] = time_get(client, "/", requests)

    pages = {
        "first_page": "/auditlog/",
        "deep_page": f"/auditlog/?before={DEEP_BEFORE}",
        "by_event_type": f"/auditlog/?event_type={EventType.SNAPSHOT_STATUS_CHANGED}",
        "by_actor_deep": f"/auditlog/?actor=ravi&before={DEEP_BEFORE}",
    }
    with maybe_profile(profile, "audit log pages"):
        for name, url in pages.items():
            timings[name] = time_get(client, url, requests)
    result["timings"] = timings

    # Baseline: the same rows read from the database with no CSV and no HTTP.
    fields = ("seq", "created_at", "actor", "event_type", "subject_type", "subject_id", "details", "hash")
    started = time.perf_counter()
    rows = AuditEvent.objects.filter(event_type__in=DECISION_TYPES).order_by("seq")
    baseline_rows = sum(1 for _ in rows.values_list(*fields).iterator(chunk_size=2000))
    result["baseline_read_s"] = time.perf_counter() - started
    started = time.perf_counter()
    selector_rows = sum(1 for _ in decision_rows(AuditFilters()))
    result["selector_s"] = time.perf_counter() - started

    with maybe_profile(profile, "decisions CSV"):
        started = time.perf_counter()
        response = client.get("/auditlog/decisions.csv")
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        result["csv_s"] = time.perf_counter() - started
    if response.status_code != 200 or lines - 1 != baseline_rows or selector_rows != baseline_rows:
        raise SystemExit(f"the CSV answered {response.status_code} with {lines - 1} rows for {baseline_rows} decisions")
    result["csv_rows"], result["csv_bytes"] = lines - 1, size
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="cProfile the pages and the CSV (stderr)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.decisions, args.requests, args.profile)))
        return 0

    print(f"postgres: building a chain with {args.decisions} decisions…", file=sys.stderr)
    worker_args = ["--decisions", str(args.decisions), "--requests", str(args.requests)] + (["--profile"] if args.profile else [])
    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-auditlog-") as temporary:
        try:
            result = run_worker(
                Path(__file__), worker_args, database_url=postgres_recreate(PG_DATABASE), data_dir=Path(temporary) / "data"
            )
        finally:
            postgres_drop(PG_DATABASE)

    timings = result["timings"]
    print(f"\nbulk data: {result['events']} events in {result['make_data_s']:.1f} s")
    print(
        f"decisions CSV: {result['csv_rows']} rows, {result['csv_bytes'] / 1e6:.1f} MB in {result['csv_s']:.2f} s "
        f"(rows read alone: {result['baseline_read_s']:.2f} s; through the selector: {result['selector_s']:.2f} s)"
    )
    print_table(["request", "p50 ms", "p95 ms"], [[name, f"{p50:.1f}", f"{p95:.1f}"] for name, (p50, p95) in timings.items()])
    print()
    # Baselines: not goals, what the machine gives the same rows or a trivial request.
    print(bench_line("auditlog_baseline_read_decisions", result["baseline_read_s"], "s", "<", CSV_TARGET_S))
    print(bench_line("auditlog_decisions_csv", result["csv_s"], "s", "<", CSV_TARGET_S))
    for name in ("baseline_select_1", "baseline_home_page", "first_page", "deep_page", "by_event_type", "by_actor_deep"):
        print(bench_line(f"auditlog_{name}_p95", timings[name][1], "ms", "<", PAGE_TARGET_MS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
