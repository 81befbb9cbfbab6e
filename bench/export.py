#!/usr/bin/env python
"""The CSV and JSON report exports of a 100,000-member snapshot (issue 12).

On PostgreSQL (a fresh database `cleanroom_bench_export`, dropped and created each run):

- 100,000 assets under 20 consents from one licensed source, each with one finished audit run
  and one in ten with a finding a reviewer dismissed, frozen into one snapshot (members, Merkle
  root) made directly with bulk_create; the contributor and consents come through the services;
- `export_write` (what the command, the API's job and the page call) to CSV and to JSON: the
  seconds of each (target < 60 s), then the same again under tracemalloc for the peak of
  Python's allocations while exporting (bounded: it must not grow with the snapshot);
- the baseline in the same run: the same member rows read with a bare `values_list` iterator
  (no joins, no CSV), and the peak memory of reading all of them into one list (what an export
  that held the snapshot in memory would need at the least).

No image is stored, so every member's blob is reported missing: the export still writes every
record (and the check of each blob is part of the time measured).

Run: `.venv/bin/python bench/export.py [--members N] [--profile]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_line, django_setup, maybe_profile, postgres_drop, postgres_recreate, run_worker

PG_DATABASE = "cleanroom_bench_export"
EXPORT_TARGET_S = 60.0
MEMORY_TARGET_MB = 64.0
BULK_BATCH = 5000
CONSENTS = 20


def _make_snapshot(count: int):
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone
    from snapshot import _consents

    from auditing.models import AuditRun, Finding, FindingStatus, RunStatus
    from core.roles import Role
    from core.users import user_add
    from provenance.merkle import leaf_hash, merkle_root, snapshot_leaf
    from provenance.models import Asset, AssetStatus, Dataset, Snapshot, SnapshotMember, SnapshotStatus, Source
    from provenance.services.contributors import contributor_add

    now = timezone.now()
    builder = user_add(username="bench-builder", role=Role.ML_ENGINEER)
    reviewer = user_add(username="bench-reviewer", role=Role.REVIEWER)
    contributor = contributor_add(email="bench@example.org", name="Bench Contributor")
    consents = _consents(contributor, CONSENTS, Path(settings.DATA_DIR) / "bench-consents")
    source = Source.objects.create(url="https://photos.example.org/", licensor="Bench Photo", licence_spdx="CC-BY-4.0")
    dataset = Dataset.objects.create(slug="bench", scopes=["ai_training", "generative_training"], created_by="bench")
    shas = sorted(hashlib.sha256(f"export-bench-{n}".encode()).hexdigest() for n in range(count))
    with transaction.atomic():
        assets = []
        for number, sha in enumerate(shas):
            consent = consents[number % CONSENTS]
            assets.append(
                Asset(
                    sha256=sha,
                    size=60_000,
                    format="JPEG",
                    mime_type="image/jpeg",
                    width=512,
                    height=512,
                    status=AssetStatus.APPROVED,
                    original_name=f"photo-{number:06d}.jpg",
                    phash="0" * 16,
                    dhash="0" * 16,
                    contributor=contributor,
                    consent=consent,
                    source=source,
                )
            )
        Asset.objects.bulk_create(assets, batch_size=BULK_BATCH)
        runs = [AuditRun(asset=a, auditor="pii", auditor_version="1.0", status=RunStatus.DONE, finished_at=now) for a in assets]
        AuditRun.objects.bulk_create(runs, batch_size=BULK_BATCH)
        Finding.objects.bulk_create(
            [
                Finding(
                    asset=run.asset,
                    run=run,
                    auditor="pii",
                    auditor_version="1.0",
                    code="face",
                    score=0.4,
                    status=FindingStatus.DISMISSED,
                    resolved_by=reviewer,
                    resolved_at=now,
                    resolution_reason="a painted face, not a person",
                )
                for run in runs[::10]
            ],
            batch_size=BULK_BATCH,
        )
        leaves = [
            leaf_hash(snapshot_leaf(asset_sha256=a.sha256, consent_id=str(a.consent_id), consent_digest=a.consent.digest))
            for a in assets
        ]
        snapshot = Snapshot.objects.create(
            dataset=dataset,
            status=SnapshotStatus.APPROVED,
            scopes=["ai_training", "generative_training"],
            merkle_root=merkle_root(leaves).hex(),
            asset_count=count,
            created_by=builder,
        )
        SnapshotMember.objects.bulk_create(
            [
                SnapshotMember(
                    snapshot=snapshot,
                    index=index,
                    asset=a,
                    asset_sha256=a.sha256,
                    consent=a.consent,
                    consent_digest=a.consent.digest,
                )
                for index, a in enumerate(assets)
            ],
            batch_size=BULK_BATCH,
        )
    return snapshot


def _export(snapshot, fmt: str, folder: Path) -> tuple[float, int]:
    from provenance.exports.service import export_write

    started = time.perf_counter()
    result = export_write(
        subject="snapshot", subject_id=str(snapshot.pk), format_name=fmt, output=folder / f"r.{fmt}", force=True
    )
    return time.perf_counter() - started, result.size


def _peak_mb(action) -> float:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def worker(members: int, profile: bool) -> dict:
    django_setup()
    from django.db import connection

    from provenance.models import SnapshotMember

    result: dict = {}
    started = time.perf_counter()
    snapshot = _make_snapshot(members)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    result["make_data_s"] = time.perf_counter() - started

    fields = ("index", "asset_id", "asset_sha256", "consent_id", "consent_digest")
    rows = SnapshotMember.objects.filter(snapshot=snapshot).order_by("index").values_list(*fields)
    started = time.perf_counter()
    read = sum(1 for _ in rows.iterator(chunk_size=2000))
    result["baseline_read_s"] = time.perf_counter() - started
    result["baseline_all_in_list_mb"] = _peak_mb(lambda: len(list(rows)))
    if read != members:
        raise SystemExit(f"read {read} members of {members}")

    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-export-out-") as out:
        folder = Path(out)
        for fmt in ("csv", "json"):
            with maybe_profile(profile, f"{fmt} export"):
                result[f"{fmt}_s"], result[f"{fmt}_bytes"] = _export(snapshot, fmt, folder)
            result[f"{fmt}_peak_mb"] = _peak_mb(lambda fmt=fmt: _export(snapshot, fmt, folder))
    result["members"] = members
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the exports (stderr)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.members, args.profile)))
        return 0

    print(f"postgres: building a snapshot of {args.members} members…", file=sys.stderr)
    worker_args = ["--members", str(args.members)] + (["--profile"] if args.profile else [])
    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-export-") as temporary:
        try:
            result = run_worker(
                Path(__file__), worker_args, database_url=postgres_recreate(PG_DATABASE), data_dir=Path(temporary) / "data"
            )
        finally:
            postgres_drop(PG_DATABASE)

    print(f"\nbulk data: a snapshot of {result['members']} members in {result['make_data_s']:.1f} s")
    print(f"baseline: member rows read alone (values_list) in {result['baseline_read_s']:.2f} s")
    print(f"baseline: all member rows held in one list: peak {result['baseline_all_in_list_mb']:.1f} MB")
    for fmt in ("csv", "json"):
        print(
            f"{fmt}: {result[f'{fmt}_bytes'] / 1e6:.1f} MB in {result[f'{fmt}_s']:.2f} s, "
            f"peak Python memory while exporting {result[f'{fmt}_peak_mb']:.1f} MB"
        )
    print()
    print(bench_line("export_baseline_read_members", result["baseline_read_s"], "s", "<", EXPORT_TARGET_S))
    print(bench_line("export_baseline_all_in_list_peak", result["baseline_all_in_list_mb"], "MB", "<", MEMORY_TARGET_MB))
    for fmt in ("csv", "json"):
        print(bench_line(f"export_{fmt}_100k", result[f"{fmt}_s"], "s", "<", EXPORT_TARGET_S))
        print(bench_line(f"export_{fmt}_peak_memory", result[f"{fmt}_peak_mb"], "MB", "<", MEMORY_TARGET_MB))
    return 0


if __name__ == "__main__":
    sys.exit(main())
