#!/usr/bin/env python
"""Snapshot creation and `auditlog verify` at 1,000,000 rows on PostgreSQL (issue 15).

A fresh database `cleanroom_bench_scale` (dropped and created each run) gets:

- N assets (status `clear`, five real consents granted through the consent service) in one
  dataset, written with PostgreSQL's COPY (core.bulk.bulk_insert: the rows the ORM would write,
  without a model instance per row);
- N audit events written with COPY as well. Their hash chain is the real one: every hash is
  computed by core.audit.event_hash over the same fields core.audit.audit_append_many hashes,
  each event's prev_hash is the previous event's hash, and the chain's head row is set to the
  last event, so `auditlog verify` recomputes and accepts exactly what the service would have
  written (bench/snapshot.py appends through the service itself, at 100,000).

Then it times the real services, the code the CLI calls: `snapshot_create` (eligibility,
consent states, the member rows written by one INSERT ... SELECT, the Merkle root over every
leaf, its audit events) and `auditlog_verify` (it reads and recomputes the whole chain, the snapshot's two
events included). Baselines measured in the same run: the same membership rows read with a
plain SELECT, the same leaves hashed with no database, the same events read with a plain SELECT.

Run: `.venv/bin/python bench/scale.py [--assets N] [--quick] [--profile]` (N default 1,000,000;
`--quick` is 20,000). Sizes of the tables (pg_total_relation_size) are printed for docs/scale.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_line, django_setup, maybe_profile, postgres_drop, postgres_recreate, print_table, run_worker
from snapshot import bench_world  # the same engineer, contributor, dataset and real consents

TARGET_SECONDS = 30.0
PG_DATABASE = "cleanroom_bench_scale"
TABLES = ("provenance_asset", "provenance_datasetmembership", "provenance_snapshotmember", "core_auditevent")


def _seed_assets(dataset, contributor, consents: list, count: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from core.bulk import bulk_insert
    from provenance.models import Asset, AssetStatus, DatasetMembership

    stamp = timezone.now().isoformat()  # bulk_insert takes database-ready values
    ids = [uuid.uuid4() for _ in range(count)]
    fields = (
        "id", "sha256", "size", "format", "mime_type", "width", "height", "status", "status_changed_at",
        "original_name", "caption", "phash", "dhash", "metadata", "contributor_id", "consent_id", "created_at", "updated_at",
    )  # fmt: skip

    def assets():
        for number, asset_id in enumerate(ids):
            sha256 = hashlib.sha256(f"bench-asset-{number}".encode()).hexdigest()
            consent_id = consents[number % len(consents)].pk
            yield (
                asset_id, sha256, 60_000 + number % 5000, "JPEG", "image/jpeg", 512, 512, AssetStatus.CLEAR.value, stamp,
                f"photo-{number:07d}.jpg", "", sha256[:16], sha256[16:32], "{}", contributor.pk, consent_id, stamp, stamp,
            )  # fmt: skip

    with transaction.atomic():
        bulk_insert(Asset, fields, assets())
        bulk_insert(DatasetMembership, ("dataset_id", "asset_id", "added_at"), ((dataset.pk, a, stamp) for a in ids))


def _seed_events(count: int) -> None:
    """`count` events chained exactly as core.audit.audit_append_many chains them, after the
    events the setup itself appended through the service."""
    from django.db import transaction
    from django.utils import timezone

    from core.audit import event_hash
    from core.bulk import bulk_insert
    from core.models import AuditChainHead, AuditEvent, EventType

    fields = ("seq", "created_at", "actor", "event_type", "subject_type", "subject_id", "details", "prev_hash", "hash")
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().get(pk=1)
        seq, prev_hash = head.seq, head.hash
        start = timezone.now() - timedelta(seconds=count)

        def events():
            nonlocal seq, prev_hash
            for number in range(count):
                seq += 1
                created_at = start + timedelta(microseconds=number * 1000)
                subject_id = f"{number:032x}"
                details = {"from": "auditing", "to": "clear", "reason": f"bench event {number}"}
                row = (seq, created_at, "system", str(EventType.ASSET_STATUS_CHANGED), "asset", subject_id, details, prev_hash)
                digest = event_hash(
                    seq=seq,
                    created_at=created_at,
                    actor="system",
                    event_type=row[3],
                    subject_type="asset",
                    subject_id=subject_id,
                    details=details,
                    prev_hash=prev_hash,
                )
                prev_hash = digest
                yield (seq, created_at.isoformat(), *row[2:6], json.dumps(details), row[7], digest)

        bulk_insert(AuditEvent, fields, events())
        AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev_hash)


def _baselines(dataset) -> dict:
    """The bare cost of what the services must do at least: read the rows, hash the leaves."""
    from django.db import connection

    from provenance import merkle

    result = {}
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "SELECT m.asset_id, a.sha256, a.status, a.consent_id FROM provenance_datasetmembership m "
            "JOIN provenance_asset a ON a.id = m.asset_id WHERE m.dataset_id = %s",
            [dataset.pk],
        )
        rows = cursor.fetchall()
        result["baseline_members_select_s"] = time.perf_counter() - started
        started = time.perf_counter()
        leaves = [hashlib.sha256(b"\x00" + f"{row[1]}:{row[3]}".encode()).digest() for row in rows]
        merkle.merkle_root(leaves)
        result["baseline_leaves_and_root_s"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute(
            "SELECT seq, created_at, actor, event_type, subject_type, subject_id, details, prev_hash, hash FROM core_auditevent"
        )
        events = 0
        while batch := cursor.fetchmany(5000):
            events += len(batch)
        result["baseline_events_select_s"] = time.perf_counter() - started
    return result


def _sizes() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        sizes = {}
        for table in TABLES:
            cursor.execute("SELECT pg_total_relation_size(%s), (SELECT count(*) FROM " + table + ")", [table])  # noqa: S608
            size, rows = cursor.fetchone()
            sizes[table] = {"bytes": size, "rows": rows}
    return sizes


def worker(assets: int, profile: bool) -> dict:
    django_setup()
    from django.db import connection

    from core.audit import auditlog_verify
    from provenance.services.snapshots import snapshot_create

    result: dict = {}
    engineer, contributor, dataset, consents = bench_world()

    started = time.perf_counter()
    _seed_assets(dataset, contributor, consents, assets)
    result["seed_assets_s"] = time.perf_counter() - started
    started = time.perf_counter()
    _seed_events(assets)
    result["seed_events_s"] = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load
    result.update(_baselines(dataset))

    with maybe_profile(profile, "snapshot_create"):
        started = time.perf_counter()
        snapshot = snapshot_create(dataset_slug="bench", actor=engineer)
        result["snapshot_create_s"] = time.perf_counter() - started
    result["snapshot_assets"] = snapshot.asset_count
    with maybe_profile(profile, "auditlog_verify"):
        started = time.perf_counter()
        report = auditlog_verify()
        result["auditlog_verify_s"] = time.perf_counter() - started
    result["audit_events"] = report.events
    result["audit_valid"] = report.valid
    result["sizes"] = _sizes()
    return result


def _scale_name(count: int) -> str:
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}m"
    return f"{count // 1000}k" if count % 1000 == 0 else str(count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 assets and events")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed calls (stderr)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    assets = 20_000 if args.quick else args.assets

    if args.worker:
        print(json.dumps(worker(assets, args.profile)))
        return 0

    print(f"postgres: seeding {assets} assets and {assets} audit events…", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-scale-") as temporary:
        url = postgres_recreate(PG_DATABASE)
        try:
            r = run_worker(
                Path(__file__),
                ["--assets", str(assets)] + (["--profile"] if args.profile else []),
                database_url=url,
                data_dir=Path(temporary) / "data",
            )
        finally:
            postgres_drop(PG_DATABASE)

    print()
    print_table(
        ["step", "seconds"],
        [[name.removesuffix("_s"), f"{value:.2f}"] for name, value in r.items() if name.endswith("_s")],
    )
    print()
    print_table(
        ["table", "rows", "MB", "bytes/row"],
        [[t, s["rows"], f"{s['bytes'] / 1e6:.1f}", f"{s['bytes'] / max(1, s['rows']):.0f}"] for t, s in r["sizes"].items()],
    )
    print()
    scale = _scale_name(assets)
    print(bench_line(f"scale.baseline_members_select_{scale}_seconds", r["baseline_members_select_s"], "s", "<", TARGET_SECONDS))
    print(bench_line(f"scale.baseline_leaves_root_{scale}_seconds", r["baseline_leaves_and_root_s"], "s", "<", TARGET_SECONDS))
    print(bench_line(f"scale.baseline_events_select_{scale}_seconds", r["baseline_events_select_s"], "s", "<", TARGET_SECONDS))
    print(bench_line(f"scale.snapshot_create_{scale}_seconds", r["snapshot_create_s"], "s", "<", TARGET_SECONDS))
    print(bench_line(f"scale.auditlog_verify_{scale}_seconds", r["auditlog_verify_s"], "s", "<", TARGET_SECONDS))
    if r["snapshot_assets"] != assets or not r["audit_valid"] or r["audit_events"] < assets:
        print("scale.py: the snapshot missed assets or the audit log did not verify", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
