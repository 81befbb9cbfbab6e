#!/usr/bin/env python
"""Snapshot creation and audit-log verification at 100,000 rows.

On PostgreSQL (a fresh database `cleanroom_bench_snapshot`, dropped and created each run) and,
unless `--only postgres`, on SQLite (a fresh file):

- 100,000 assets (status `clear`, five consents) in one dataset, made directly with
  bulk_create; then time `provenance.services.snapshots.snapshot_create`;
- 100,000 audit events appended through `core.audit.audit_append_many`, 5,000 per transaction;
  then time `core.audit.auditlog_verify()`.

Run: `.venv/bin/python bench/snapshot.py [--assets N] [--events N] [--only sqlite|postgres] [--profile]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    bench_line,
    django_setup,
    maybe_profile,
    postgres_drop,
    postgres_recreate,
    print_table,
    run_worker,
)

TARGET_SECONDS = 5.0
PG_DATABASE = "cleanroom_bench_snapshot"
CONSENTS = 5
EVENTS_PER_TRANSACTION = 5_000
BULK_BATCH = 5000


def _consents(contributor, count: int, folder: Path) -> list:
    from provenance.services.consent import consent_grant, read_consent_file

    folder.mkdir(parents=True, exist_ok=True)
    consents = []
    for number in range(count):
        (folder / f"form-{number}.txt").write_text(f"bench consent form {number}\n")
        path = folder / f"consent-{number}.json"
        path.write_text(
            json.dumps(
                {
                    "contributor": contributor.email,
                    "scopes": ["ai_training", "commercial_use", "generative_training"],
                    "terms_version": f"bench-{number}",
                    "granted_at": "2025-01-01",
                    "expires_at": None,
                    "evidence": f"form-{number}.txt",
                }
            )
        )
        document, open_evidence = read_consent_file(path)
        consent, _ = consent_grant(document=document, contributor=contributor, open_evidence=open_evidence)
        consents.append(consent)
    return consents


def bench_world() -> tuple:
    """(an ML engineer, a contributor, the `bench` dataset, CONSENTS real consents of theirs)."""
    from django.conf import settings

    from core.roles import Role
    from core.users import user_add
    from provenance.services.contributors import contributor_add
    from provenance.services.datasets import dataset_create

    engineer = user_add(username="bench-engineer", role=Role.ML_ENGINEER)
    contributor = contributor_add(email="bench@example.org", name="Bench Contributor")
    dataset = dataset_create(slug="bench", scopes=["ai_training", "generative_training"])
    return engineer, contributor, dataset, _consents(contributor, CONSENTS, Path(settings.DATA_DIR) / "bench-consents")


def _make_assets(dataset, contributor, consents: list, count: int) -> None:
    from django.db import transaction

    from provenance.models import Asset, AssetStatus, DatasetMembership

    def assets():
        for number in range(count):
            sha256 = hashlib.sha256(f"bench-asset-{number}".encode()).hexdigest()
            yield Asset(
                sha256=sha256,
                size=60_000 + number % 5000,
                format="JPEG",
                mime_type="image/jpeg",
                width=512,
                height=512,
                status=AssetStatus.CLEAR,
                original_name=f"photo-{number:06d}.jpg",
                phash=sha256[:16],
                dhash=sha256[16:32],
                metadata={},
                contributor=contributor,
                consent=consents[number % len(consents)],
            )

    with transaction.atomic():
        Asset.objects.bulk_create(assets(), batch_size=BULK_BATCH)
        ids = Asset.objects.values_list("pk", flat=True).iterator(chunk_size=BULK_BATCH)
        DatasetMembership.objects.bulk_create(
            (DatasetMembership(dataset=dataset, asset_id=pk) for pk in ids), batch_size=BULK_BATCH
        )


def _append_events(count: int) -> None:
    """Real chain appends (core.audit.audit_append_many), a few thousand per transaction."""
    from django.db import transaction

    from core.audit import AuditEntry, audit_append_many
    from core.models import EventType

    done = 0
    while done < count:
        size = min(EVENTS_PER_TRANSACTION, count - done)
        with transaction.atomic():
            audit_append_many(
                [
                    AuditEntry(
                        actor="bench",
                        event_type=EventType.ASSET_STATUS_CHANGED,
                        subject=("asset", f"bench-{done + i + 1}"),
                        details={"from": "ingested", "to": "clear", "reason": f"bench event {done + i + 1}"},
                    )
                    for i in range(size)
                ]
            )
        done += size


def worker(assets: int, events: int, profile: bool, label: str) -> dict:
    django_setup()

    from core.audit import auditlog_verify
    from provenance.services.snapshots import snapshot_create

    result: dict = {}
    engineer, contributor, dataset, consents = bench_world()

    started = time.perf_counter()
    _make_assets(dataset, contributor, consents, assets)
    result["make_assets_s"] = time.perf_counter() - started
    with maybe_profile(profile, f"snapshot_create on {label}"):
        started = time.perf_counter()
        snapshot = snapshot_create(dataset_slug="bench", actor=engineer)
        result["snapshot_create_s"] = time.perf_counter() - started
    result["snapshot_assets"] = snapshot.asset_count
    result["snapshot_excluded"] = snapshot.exclusions.count()

    started = time.perf_counter()
    _append_events(events)
    result["append_events_s"] = time.perf_counter() - started
    with maybe_profile(profile, f"auditlog_verify on {label}"):
        started = time.perf_counter()
        report = auditlog_verify()
        result["auditlog_verify_s"] = time.perf_counter() - started
    result["audit_events"] = report.events
    result["audit_valid"] = report.valid
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--profile", action="store_true", help="cProfile the timed calls (stderr)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--label", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.assets, args.events, args.profile, args.label)))
        return 0

    results = {}
    worker_args = ["--assets", str(args.assets), "--events", str(args.events)] + (["--profile"] if args.profile else [])
    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-snapshot-") as temporary:
        for database in ("postgres", "sqlite"):
            if args.only and args.only != database:
                continue
            data_dir = Path(temporary) / f"data-{database}"
            url = f"sqlite:///{data_dir / 'cleanroom.sqlite3'}" if database == "sqlite" else postgres_recreate(PG_DATABASE)
            print(f"{database}: building {args.assets} assets and {args.events} audit events…", file=sys.stderr)
            try:
                results[database] = run_worker(
                    Path(__file__), [*worker_args, "--label", database], database_url=url, data_dir=data_dir
                )
            finally:
                if database == "postgres":
                    postgres_drop(PG_DATABASE)

    rows = []
    for database, r in results.items():
        rows.append(
            [
                database,
                f"{r['make_assets_s']:.1f}",
                f"{r['snapshot_create_s']:.2f}",
                r["snapshot_assets"],
                f"{r['append_events_s']:.1f}",
                f"{r['auditlog_verify_s']:.2f}",
                r["audit_events"],
                r["audit_valid"],
            ]
        )
    print()
    print_table(
        ["database", "bulk_create s", "snapshot_create s", "members", "audit_append s", "auditlog_verify s", "events", "valid"],
        rows,
    )
    print()
    failed = False
    for database, r in results.items():
        suffix = "" if database == "postgres" else "_sqlite"
        scale = f"{args.assets // 1000}k" if args.assets % 1000 == 0 else str(args.assets)
        events = f"{args.events // 1000}k" if args.events % 1000 == 0 else str(args.events)
        print(bench_line(f"snapshot_create_{scale}{suffix}", r["snapshot_create_s"], "s", "<", TARGET_SECONDS))
        print(bench_line(f"auditlog_verify_{events}{suffix}", r["auditlog_verify_s"], "s", "<", TARGET_SECONDS))
        failed |= r["snapshot_assets"] != args.assets or not r["audit_valid"]
    if failed:
        print("snapshot.py: a snapshot missed assets or the audit log did not verify", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
