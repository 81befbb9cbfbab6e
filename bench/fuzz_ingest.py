#!/usr/bin/env python
"""Fuzzing ingest at 10,000 files: how fast malformed files are answered, and that none crashes.

The files are tests/support/mutants.py's (seeded mutations of valid JPEG, PNG, WebP, GIF, TIFF
and ZIP files, an untouched valid image every tenth), written to a folder and ingested with
`ingest_paths` (what the `ingest` command runs) on a fresh PostgreSQL database
`cleanroom_bench_fuzz`. The baseline, measured in the same run on the same files: Pillow opening
and decoding each one (what any image service pays), ZIPs listed.

Run: `.venv/bin/python bench/fuzz_ingest.py [--count 10000]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _common import REPO, bench_line, postgres_drop, postgres_recreate, print_table, run_worker, write_bench_consent

PG_DATABASE = "cleanroom_bench_fuzz"
TARGET_FILES_PER_S = 100


def floor(folder: Path) -> float:
    from PIL import Image

    started = time.perf_counter()
    for path in sorted(folder.iterdir()):
        try:
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    archive.infolist()
            else:
                with Image.open(path) as picture:
                    picture.load()
        except Exception:  # noqa: S112 - a malformed file is the point; only the time counts
            continue
    return time.perf_counter() - started


def worker(folder: Path) -> dict:
    from _common import django_setup

    django_setup()
    import logging

    from django.conf import settings

    from core.roles import Role
    from core.users import user_add
    from provenance.services.contributors import contributor_add
    from provenance.services.datasets import dataset_create
    from provenance.services.ingest import ingest_paths

    crashes: list[str] = []

    class _Crashes(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            crashes.append(record.getMessage())

    logging.getLogger("provenance").addHandler(_Crashes(level=logging.ERROR))
    user_add(username="fuzz", role=Role.CONTRIBUTOR)
    contributor_add(email="fuzz@example.org", name="Fuzz Contributor", username="fuzz")
    dataset_create(slug="fuzz", scopes=["ai_training", "generative_training"])
    consent = write_bench_consent(Path(settings.DATA_DIR) / "consent" / "consent.json", "fuzz@example.org")
    started = time.perf_counter()
    batch = ingest_paths(
        paths=[str(folder)], dataset_slug="fuzz", contributor_email="fuzz@example.org", consent_path=str(consent)
    )
    seconds = time.perf_counter() - started
    reasons: dict[str, int] = {}
    for item in batch.refused_items:
        reasons[item.reason] = reasons.get(item.reason, 0) + 1
    crashed = sum(1 for item in batch.refused_items if item.detail.startswith(("could not be read:", "could not be recorded:")))
    return {
        "seconds": seconds,
        "accepted": len(batch.accepted_items),
        "refused": len(batch.refused_items),
        "reasons": reasons,
        "crashes": crashed + len(crashes),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.folder))))
        return 0

    sys.path.insert(0, str(REPO))
    from tests.support.mutants import mutant_files

    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-fuzz-") as temporary:
        root = Path(temporary)
        folder = root / "mutants"
        folder.mkdir()
        valid = 0
        for file in mutant_files(args.count, seed=15):
            (folder / file.name).write_bytes(file.data)
            valid += file.valid
        floor_seconds = floor(folder)
        try:
            result = run_worker(
                Path(__file__), ["--folder", str(folder)], database_url=postgres_recreate(PG_DATABASE), data_dir=root / "data"
            )
        finally:
            postgres_drop(PG_DATABASE)

    rate = args.count / result["seconds"]
    print_table(
        ["run", "seconds", "files/s"],
        [
            ["floor (Pillow open + decode, ZIPs listed)", f"{floor_seconds:.2f}", f"{args.count / floor_seconds:.0f}"],
            [f"ingest_paths ({result['accepted']} accepted, {result['refused']} refused)", f"{result['seconds']:.2f}",
             f"{rate:.0f}"],
        ],
    )  # fmt: skip
    print(f"\n{valid} untouched valid images among {args.count} files; refusals by reason: {result['reasons']}\n")
    print(bench_line("fuzz_ingest.files_per_s", rate, "files/s", ">=", TARGET_FILES_PER_S))
    print(bench_line("fuzz_ingest.crashes", result["crashes"], "count", "==", 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
