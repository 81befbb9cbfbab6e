#!/usr/bin/env python
"""The compliance pack of a 100,000-member snapshot: time and peak memory of
`export --format pack`, then of `verify_pack.py` run on it.

On PostgreSQL (a fresh database `cleanroom_bench_pack`, dropped and created each run): 100,000
assets made directly with bulk_create (as bench/snapshot.py does), snapshot_create, two
approvals, `pki init`, the signed snapshot container (timed apart: it is made once per snapshot);
then `export_write(format="pack")` is timed with the process's peak RSS
before and after, and `verify_pack.py` (taken from the pack) is run on the result.

Run: `.venv/bin/python bench/pack.py [--assets N]`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_line, django_setup, postgres_drop, postgres_recreate, print_table, run_worker
from snapshot import _consents, _make_assets

TARGET_SECONDS = 120.0
PG_DATABASE = "cleanroom_bench_pack"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(assets: int) -> dict:
    django_setup()
    from django.conf import settings

    from core.roles import Role
    from core.users import user_add
    from provenance.exports.formats import SNAPSHOT
    from provenance.exports.service import export_write
    from provenance.services.contributors import contributor_add
    from provenance.services.datasets import dataset_create
    from provenance.services.pki import pki_init
    from provenance.services.snapshot_export import snapshot_container
    from provenance.services.snapshots import snapshot_approve, snapshot_create

    engineer = user_add(username="bench-engineer", role=Role.ML_ENGINEER)
    reviewers = [user_add(username=f"bench-reviewer-{n}", role=Role.REVIEWER) for n in (1, 2)]
    contributor = contributor_add(email="bench@example.org", name="Bench Contributor")
    dataset = dataset_create(slug="bench", scopes=["ai_training", "generative_training"])
    consents = _consents(contributor, 5, Path(settings.DATA_DIR) / "bench-consents")
    _make_assets(dataset, contributor, consents, assets)
    snapshot = snapshot_create(dataset_slug="bench", actor=engineer)
    for reviewer in reviewers:
        snapshot_approve(snapshot_id=str(snapshot.pk), reviewer=reviewer)
    pki_init()
    # The signed snapshot container is made once per snapshot (by training or the first pack): timed apart.
    started = time.perf_counter()
    snapshot_container(snapshot.pk)
    container_s = time.perf_counter() - started

    output = Path(settings.DATA_DIR) / "pack.zip"
    before = _peak_mib()
    started = time.perf_counter()
    result = export_write(subject=SNAPSHOT, subject_id=str(snapshot.pk), format_name="pack", output=output)
    export_s = time.perf_counter() - started
    after = _peak_mib()

    script = Path(settings.DATA_DIR) / "verify_pack.py"
    with zipfile.ZipFile(output) as pack:
        script.write_bytes(pack.read("verify_pack.py"))
    started = time.perf_counter()
    verified = subprocess.run([sys.executable, "-I", str(script), str(output)], capture_output=True, text=True)
    verify_s = time.perf_counter() - started
    return {
        "members": snapshot.asset_count,
        "container_s": container_s,
        "export_s": export_s,
        "pack_mib": result.size / 2**20,
        "peak_rss_before_mib": before,
        "peak_rss_after_mib": after,
        "verify_s": verify_s,
        "verdict": verified.stdout.strip().splitlines()[-1] if verified.stdout.strip() else verified.stderr[-300:],
        "verify_rc": verified.returncode,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.assets)))
        return 0
    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-pack-") as temporary:
        try:
            r = run_worker(
                Path(__file__),
                ["--assets", str(args.assets)],
                database_url=postgres_recreate(PG_DATABASE),
                data_dir=Path(temporary),
            )
        finally:
            postgres_drop(PG_DATABASE)
    print_table(
        ["members", "container s", "pack s", "pack MiB", "peak RSS before MiB", "peak RSS after MiB", "verify s", "verdict"],
        [
            [
                r["members"],
                f"{r['container_s']:.1f}",
                f"{r['export_s']:.1f}",
                f"{r['pack_mib']:.0f}",
                f"{r['peak_rss_before_mib']:.0f}",
                f"{r['peak_rss_after_mib']:.0f}",
                f"{r['verify_s']:.1f}",
                r["verdict"],
            ]
        ],
    )
    scale = f"{args.assets // 1000}k" if args.assets % 1000 == 0 else str(args.assets)
    print(bench_line(f"export_pack_{scale}", r["export_s"], "s", "<", TARGET_SECONDS))
    return 0 if r["verify_rc"] == 0 and r["members"] == args.assets else 1


if __name__ == "__main__":
    sys.exit(main())
