#!/usr/bin/env python
"""The legal review pages at 50,000 flagged assets with 100,000 open findings (issue 11).

On PostgreSQL (a fresh database `cleanroom_bench_review`, dropped and created each run):

- 50,000 assets (status `flagged`), each with two open findings from two of the four auditors
  (so 100,000 findings, 100,000 audit runs), made directly with bulk_create, no services;
- the queue page's server time through Django's test Client signed in as a reviewer: `/review/`
  (first page), page 500 (a cursor computed for the 24,950th row, what 499 "Next" presses
  reach), a page filtered by auditor, the score-ordered first page; p50 and p95 of each;
- "the next asset opens after a decision": POST a dismissal on an asset page, then time the GET
  of the next asset's page;
- "Decide all N matches…" over every finding of one auditor (25,000): the plan the page fixes
  and the background job the worker runs, timed per finding against one decision made on its
  asset page;
- the baseline measured in the same run: the home page (a trivial template, same middleware and
  session) and a plain `SELECT 1`.

Run: `.venv/bin/python bench/review_ui.py [--assets N] [--requests N] [--profile]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
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

PG_DATABASE = "cleanroom_bench_review"
QUEUE_TARGET_MS = 300.0
NEXT_ASSET_TARGET_MS = 200.0
# A bulk decision must cost a finding far less than deciding it on its page (10-30 ms here: the
# `review_single_decision_p50` baseline), and 25,000 findings must finish well inside one task's
# time limit (CELERY_TASK_TIME_LIMIT, 660 s).
BULK_PER_FINDING_TARGET_MS = 3.0
BULK_TOTAL_TARGET_S = 120.0
BULK_BATCH = 5000
AUDITORS = ("pii", "near_duplicate", "nsfw", "synthetic")
CODES = {"pii": "face", "near_duplicate": "protected_match", "nsfw": "explicit", "synthetic": "ai_generated"}
DEEP_PAGE = 500
PAGE_SIZE = 50


def _make_data(count: int):
    """Assets, runs and findings straight through the models (bulk_create); the one contributor
    and consent they hang on come through the services, as in bench/snapshot.py."""
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone
    from snapshot import _consents

    from auditing.models import AuditRun, Finding, FindingStatus, RunStatus
    from provenance.models import Asset, AssetStatus
    from provenance.services.contributors import contributor_add

    rng = random.Random(11)
    now = timezone.now()
    contributor = contributor_add(email="bench@example.org", name="Bench Contributor")
    (consent,) = _consents(contributor, 1, Path(settings.DATA_DIR) / "bench-consents")
    with transaction.atomic():
        assets = [
            Asset(
                sha256=hashlib.sha256(f"review-bench-{number}".encode()).hexdigest(),
                size=60_000,
                format="JPEG",
                mime_type="image/jpeg",
                width=512,
                height=512,
                status=AssetStatus.FLAGGED,
                original_name=f"photo-{number:06d}.jpg",
                phash="0" * 16,
                dhash="0" * 16,
                metadata={},
                contributor=contributor,
                consent=consent,
                created_at=now - timedelta(seconds=2 * (count - number)),
            )
            for number in range(count)
        ]
        Asset.objects.bulk_create(assets, batch_size=BULK_BATCH)
        runs, findings = [], []
        for number, asset in enumerate(assets):
            for offset in (0, 1):
                auditor = AUDITORS[(number + offset) % len(AUDITORS)]
                run = AuditRun(asset=asset, auditor=auditor, auditor_version="1", status=RunStatus.DONE, attempts=1)
                runs.append(run)
                findings.append(
                    Finding(
                        asset=asset,
                        run=run,
                        auditor=auditor,
                        auditor_version="1",
                        code=CODES[auditor],
                        score=round(rng.random(), 4),
                        details={},
                        status=FindingStatus.OPEN,
                        created_at=asset.created_at + timedelta(seconds=offset),
                    )
                )
        AuditRun.objects.bulk_create(runs, batch_size=BULK_BATCH)
        Finding.objects.bulk_create(findings, batch_size=BULK_BATCH)
    return assets


def _explain(sql_params) -> str:
    from django.db import connection

    sql, params = sql_params
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def worker(count: int, requests: int, profile: bool) -> dict:
    django_setup()
    from django.db import connection
    from django.db.models import Count, Max
    from django.test import Client
    from django.test.utils import setup_test_environment

    from auditing.selectors import ReviewFilters, _cursor_write, open_findings_matching
    from core.roles import Role
    from core.users import user_add

    setup_test_environment()  # the test Client's host, as `manage.py test` would allow it
    result: dict = {}
    started = time.perf_counter()
    assets = _make_data(count)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load
    result["make_data_s"] = time.perf_counter() - started

    reviewer = user_add(username="bench-reviewer", role=Role.REVIEWER)
    client = Client()
    client.force_login(reviewer)
    timings: dict[str, tuple[float, float]] = {}

    # Baselines: a plain query, and a trivial page through the same middleware and session.
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        samples.append((time.perf_counter() - started) * 1000)
    timings["baseline_select_1"] = percentiles(samples)
    timings["baseline_home_page"] = time_get(client, "/", requests)

    groups = (
        open_findings_matching(reviewer, ReviewFilters())
        .values("asset_id")
        .annotate(latest=Max("created_at"), top_score=Max("score"), open_findings=Count("id", distinct=True))
        .order_by("-latest", "-asset_id")
    )
    # The last row of page 499: page 500 follows it (or the last full page, on a small run).
    deep = groups[min((DEEP_PAGE - 1) * PAGE_SIZE, count - PAGE_SIZE) - 1]
    deep_cursor = _cursor_write(deep["latest"], deep["asset_id"], "newest")
    pages = {
        "queue_first_page": "/review/",
        "queue_page_500": f"/review/?after={deep_cursor}",
        "queue_by_auditor": "/review/?auditor=synthetic",
        "queue_by_score": "/review/?order=score",
    }
    with maybe_profile(profile, "queue pages"):
        for name, url in pages.items():
            timings[name] = time_get(client, url, requests)
    result["plan_first_page"] = _explain(groups[: PAGE_SIZE + 1].query.sql_with_params())
    result["plan_by_score"] = _explain(groups.order_by("-top_score", "-asset_id")[: PAGE_SIZE + 1].query.sql_with_params())

    # A decision, then the next asset's page (newest first: the asset just older than this one).
    samples, decision_samples = [], []
    for number in range(requests):
        asset = assets[-1 - number]
        client.get(f"/review/assets/{asset.pk}/")
        finding = asset.findings.order_by("created_at").first()
        started = time.perf_counter()
        response = client.post(
            f"/review/assets/{asset.pk}/",
            {"finding": str(finding.pk), "decision": "dismiss", "reason": "bench: a false match"},
        )
        decision_samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 302:
            raise SystemExit(f"the dismissal answered {response.status_code}")
        next_asset = assets[-2 - number]
        started = time.perf_counter()
        response = client.get(f"/review/assets/{next_asset.pk}/")
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"the next asset's page answered {response.status_code}")
    timings["next_asset_after_decision"] = percentiles(samples)
    timings["single_decision"] = percentiles(decision_samples)
    result["timings"] = timings
    result["bulk"] = _bulk_dismissal(reviewer)
    return result


def _bulk_dismissal(reviewer) -> dict:
    """Every open finding of one auditor (a quarter of them), dismissed as `Decide all N
    matches…` does it when the set is large: the plan the page fixes, then the background job
    the worker runs (here in this process, the same code)."""
    from auditing.selectors import ReviewFilters
    from auditing.services.bulk_decisions import BULK_DECISION_KIND, bulk_decision_plan, bulk_decision_scope
    from core.background import background_run, background_start

    filters = ReviewFilters(auditor="synthetic")
    seen = bulk_decision_scope(reviewer=reviewer, filters=filters).findings
    started = time.perf_counter()
    plan = bulk_decision_plan(reviewer=reviewer, filters=filters, decision="dismiss", reason="bench: scans", seen_count=seen)
    job = background_start(kind=BULK_DECISION_KIND, actor=reviewer, params=plan.to_params(), total=plan.count)
    job = background_run(job.pk)
    seconds = time.perf_counter() - started
    if job.status != "succeeded":
        raise SystemExit(f"the bulk job ended {job.status}: {job.status_reason}")
    return {"findings": seen, "seconds": seconds, "decided": job.result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--plans", action="store_true", help="print the queue's query plans (stderr)")
    parser.add_argument("--profile", action="store_true", help="cProfile the queue pages (stderr)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.assets, args.requests, args.profile)))
        return 0

    print(f"postgres: building {args.assets} assets with {2 * args.assets} open findings…", file=sys.stderr)
    worker_args = ["--assets", str(args.assets), "--requests", str(args.requests)] + (["--profile"] if args.profile else [])
    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-review-") as temporary:
        try:
            result = run_worker(
                Path(__file__), worker_args, database_url=postgres_recreate(PG_DATABASE), data_dir=Path(temporary) / "data"
            )
        finally:
            postgres_drop(PG_DATABASE)

    if args.plans:
        print(f"\n=== plan: first page, newest ===\n{result['plan_first_page']}", file=sys.stderr)
        print(f"\n=== plan: first page, by score ===\n{result['plan_by_score']}", file=sys.stderr)
    timings = result["timings"]
    print(f"\nbulk data: {result['make_data_s']:.1f} s")
    print_table(["request", "p50 ms", "p95 ms"], [[name, f"{p50:.1f}", f"{p95:.1f}"] for name, (p50, p95) in timings.items()])
    print()
    for name in ("baseline_select_1", "baseline_home_page"):
        # Not a goal: what the machine gives a trivial request, to read the figures below against.
        print(bench_line(f"review_{name}_p95", timings[name][1], "ms", "<", QUEUE_TARGET_MS))
    for name in ("queue_first_page", "queue_page_500", "queue_by_auditor", "queue_by_score"):
        print(bench_line(f"review_{name}_p95", timings[name][1], "ms", "<", QUEUE_TARGET_MS))
    next_asset_p95 = timings["next_asset_after_decision"][1]
    print(bench_line("review_next_asset_after_decision_p95", next_asset_p95, "ms", "<", NEXT_ASSET_TARGET_MS))
    bulk = result["bulk"]
    per_finding_ms = 1000 * bulk["seconds"] / bulk["findings"]
    print(f"bulk dismissal: {bulk['findings']} findings in {bulk['seconds']:.1f} s ({bulk['decided']})")
    # The baseline: one decision made on the asset page (p50 of the POSTs above).
    print(bench_line("review_single_decision_p50", timings["single_decision"][0], "ms", "<", NEXT_ASSET_TARGET_MS))
    print(bench_line("review_bulk_decision_per_finding", per_finding_ms, "ms", "<", BULK_PER_FINDING_TARGET_MS))
    print(bench_line("review_bulk_decision_total", bulk["seconds"], "s", "<", BULK_TOTAL_TARGET_S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
