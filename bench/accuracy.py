#!/usr/bin/env python
"""Auditor accuracy: precision and recall per auditor and entity, on labelled evaluation sets.

Each set is built here, reproducibly, by `auditing.evaluation.<auditor>` from data that ships in
installed packages or is generated with a fixed seed (never downloaded; the builder writes the
labels). Then every auditor's detectors run over its set and the outcomes are counted.

1. NSFW: false positives on the negative set (abstract graphics, gradients, colour charts,
   textures, product-like shots, landscapes, people fully clothed), and the positives we can
   build without shipping explicit images (see docs/auditors.md for what cannot be measured).
2. PII: precision and recall per entity type, with Presidio's analyzer alone on the same text
   as the baseline.
3. Near-duplicates: recall and false positives per transformation, and the threshold curve,
   with and without the embedding stage.

Run: `.venv/bin/python bench/accuracy.py [--only nsfw,pii,near_duplicate] [--quick]`.
The figures and their meaning are published in docs/auditors.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import print_table

AUDITORS = ("synthetic", "nsfw", "pii", "near_duplicate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(AUDITORS), help="comma-separated auditors to measure")
    parser.add_argument("--quick", action="store_true", help="a smaller set per auditor (a smoke run, not the published figures)")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(AUDITORS))
    if unknown:
        parser.error(f"unknown auditors {unknown}; known: {', '.join(AUDITORS)}")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import django

    django.setup()

    figures = []
    for name in chosen:
        module = importlib.import_module(f"auditing.evaluation.{name}")
        started = time.perf_counter()
        measurement = module.measure(quick=args.quick)
        print(f"\n== {measurement.auditor} ({time.perf_counter() - started:.1f} s)")
        print_table(measurement.headers, measurement.rows)
        for note in measurement.notes:
            print(f"  note: {note}")
        figures.extend(measurement.figures)
    print()
    for figure in figures:
        print(figure.bench_line())


if __name__ == "__main__":
    main()
