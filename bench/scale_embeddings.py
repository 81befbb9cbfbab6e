#!/usr/bin/env python
"""The embedding stage of the near-duplicate search at 1,000,000 vectors (issue 15).

Vectors: 512 dimensions (open_clip ViT-B-32's image embedding, the size a real CLIP model
configured in CLEANROOM_EMBEDDINGS gives), unit length, drawn around 10,000 random centres
(a photo collection has many near-identical groups, not uniform noise; two vectors of one group
have cosine ≈ 0.8). Queries: 1,000 stored vectors with noise of 0.05 per dimension added, which
leaves a query at cosine ≈ 0.66 to its original and ≈ 0.53 to the rest of its group: a harder
query than a re-encoded or cropped copy (docs/scale.md says how this relates to real CLIP
embeddings).

It builds `auditing.similarity.vectors.VectorIndex` twice over the same vectors: with the
default threshold (above it: the inverted file the platform uses) and with a threshold above N
(the exact flat index: the baseline, measured in the same run). Reported: build time, resident
memory added by each, query p50/p95 (one query at a time on one faiss thread, as the auditor
asks), recall@10 of the approximate index against the exact one, and the time to save the
trained inverted file and to load it back as a worker start does (`prefer_saved`) instead of
training it.

Run: `.venv/bin/python bench/scale_embeddings.py [--vectors N] [--quick]` (`--quick`: 100,000).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import bench_line, percentiles, print_table

from auditing.similarity.vectors import DEFAULT_ANN_THRESHOLD, DEFAULT_NPROBE, VectorIndex, unit_rows

DIM = 512
CENTRES = 10_000
QUERIES = 1_000
K = 10
EXACT_TIMED = 50  # a single exact query scans every vector: 50 of them give its p50
P50_TARGET_MS = 10.0
SWEEP = (1, 4, 8, 16, 32, 64)
SWEEP_QUERIES = 300
RECALL_TARGET = 0.95


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1e6


def _vectors(count: int, rng: np.random.Generator) -> np.ndarray:
    return _grouped_vectors(count, rng)[0]


def _grouped_vectors(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(unit vectors, the centre each was drawn around)."""
    centres = rng.standard_normal((CENTRES, DIM), dtype=np.float32)
    rows = np.empty((count, DIM), dtype=np.float32)
    groups = np.empty(count, dtype=np.int64)
    for start in range(0, count, 100_000):  # in slices: one 1M×512 temporary is another 2 GB
        stop = min(count, start + 100_000)
        groups[start:stop] = rng.integers(0, CENTRES, stop - start)
        rows[start:stop] = centres[groups[start:stop]]
        rows[start:stop] += 0.5 * rng.standard_normal((stop - start, DIM), dtype=np.float32)
    return (unit_rows(rows) if count else rows), groups


def _build(rows: np.ndarray, threshold: int) -> tuple[VectorIndex, float, float]:
    before = _rss_mb()
    started = time.perf_counter()
    index = VectorIndex(ann_threshold=threshold)
    index.add(np.arange(len(rows), dtype=np.int64), rows)
    return index, time.perf_counter() - started, _rss_mb() - before


def _truth(index: VectorIndex, queries: np.ndarray) -> list[set[int]]:
    """The exact top K of every query in one batched search (BLAS: seconds, not a query at a time)."""
    # The wrapped faiss index searched directly: VectorIndex.search takes one query at a time.
    _, ids = index._index.search(queries, K)  # type: ignore[union-attr]
    return [set(int(i) for i in row if i >= 0) for row in ids]


def _queries(index: VectorIndex, queries: np.ndarray) -> tuple[list[set[int]], list[float]]:
    found, samples = [], []
    # One faiss thread, as NearDuplicateIndex.candidates searches: one query gains nothing from
    # a second thread, and on a busy machine OpenMP's waiting costs more than it gives.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        for query in queries:
            started = time.perf_counter()
            hits = index.search(query[None, :], K, -1.0)
            samples.append((time.perf_counter() - started) * 1000)
            found.append(set(hits))
    finally:
        faiss.omp_set_num_threads(threads)
    return found, samples


def _save_and_load(index: VectorIndex, rows: np.ndarray) -> tuple[VectorIndex, float, float, float]:
    """(the index loaded back, save s, load s, file MB): the trained inverted file written and
    read back as a worker start reads it. The load includes hashing the vectors, as a real load
    hashes the vectors file to check the inverted file was built from it."""
    with tempfile.TemporaryDirectory(prefix="scale-embeddings-") as folder:
        path = Path(folder) / "vectors.ann"
        started = time.perf_counter()
        digest = hashlib.sha256(memoryview(rows).cast("B")).digest()
        with path.open("wb") as out:
            index.write_inverted_file(out, digest)
        save_s = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6
        started = time.perf_counter()
        loaded = VectorIndex(ann_threshold=DEFAULT_ANN_THRESHOLD)
        loaded.prefer_saved(path, hashlib.sha256(memoryview(rows).cast("B")).digest())
        loaded.add(np.arange(len(rows), dtype=np.int64), rows)
        load_s = time.perf_counter() - started
    if not loaded.loaded_from_file:
        raise SystemExit("the saved inverted file was not used: see the log above")
    return loaded, save_s, load_s, size_mb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 vectors")
    parser.add_argument(
        "--sweep", action="store_true", help=f"also p50/p95/recall at nprobe {SWEEP} ({SWEEP_QUERIES} queries each)"
    )
    args = parser.parse_args()
    count = 100_000 if args.quick else args.vectors
    if count <= DEFAULT_ANN_THRESHOLD:
        raise SystemExit(f"--vectors must exceed the threshold ({DEFAULT_ANN_THRESHOLD}) to measure the approximate index")

    rng = np.random.default_rng(0)
    started = time.perf_counter()
    rows, groups = _grouped_vectors(count, rng)
    picked = rng.choice(count, QUERIES, replace=False)
    queries = unit_rows(rows[picked] + 0.05 * rng.standard_normal((QUERIES, DIM), dtype=np.float32))
    print(f"{count} vectors of {DIM} dimensions made in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    approximate, ann_build_s, ann_mb = _build(rows, DEFAULT_ANN_THRESHOLD)
    assert approximate.approximate
    print(f"approximate index built in {ann_build_s:.1f} s", file=sys.stderr)
    approximate_lists = approximate.lists
    loaded, save_s, load_s, file_mb = _save_and_load(approximate, rows)
    del approximate
    ann_found, ann_ms = _queries(loaded, queries)
    swept = {nprobe: _queries(_with_nprobe(loaded, nprobe), queries[:SWEEP_QUERIES]) for nprobe in SWEEP} if args.sweep else {}
    del loaded
    exact, exact_build_s, exact_mb = _build(rows, count + 1)
    exact_found = _truth(exact, queries)
    _, exact_ms = _queries(exact, queries[:EXACT_TIMED])

    recall = _recall(ann_found, exact_found)
    self_hit = sum(int(picked[i]) in ann_found[i] for i in range(QUERIES)) / QUERIES
    # Where a group has fewer than K members, the exact top K ends in other groups, at cosine
    # ≈ 0.2 (a near-tie among unrelated vectors that no auditor acts on): recall of the group
    # members among the exact top K is reported beside the plain recall.
    in_group = [{i for i in truth if groups[i] == groups[picked[q]]} for q, truth in enumerate(exact_found)]
    group_recall = _recall(ann_found, in_group)
    ann_p50, ann_p95 = percentiles(ann_ms)
    exact_p50, exact_p95 = percentiles(exact_ms)
    print()
    print_table(
        ["index", "build s", "memory MB", "query p50 ms", "query p95 ms"],
        [
            ["exact (IndexFlatIP)", f"{exact_build_s:.1f}", f"{exact_mb:.0f}", f"{exact_p50:.2f}", f"{exact_p95:.2f}"],
            [
                f"approximate (IVFFlat, {approximate_lists} lists, nprobe {DEFAULT_NPROBE})",
                f"{ann_build_s:.1f}",
                f"{ann_mb:.0f}",
                f"{ann_p50:.2f}",
                f"{ann_p95:.2f}",
            ],
        ],
    )
    print(f"\nrecall@{K} against exact: {recall:.4f}; the query's own original found: {self_hit:.4f}")
    share = sum(map(len, in_group)) / sum(map(len, exact_found))
    print(f"recall of the exact top {K} in the query's own group: {group_recall:.4f} ({share:.1%} of the exact top {K})")
    print(f"inverted file: saved in {save_s:.1f} s ({file_mb:.0f} MB), loaded in {load_s:.1f} s", end="")
    print(f" instead of {ann_build_s:.1f} s of training")
    print(f"vector bytes: {count * DIM * 4 / 1e6:.0f} MB ({DIM * 4} bytes per vector)\n")
    scale = f"{count // 1_000_000}m" if count % 1_000_000 == 0 else f"{count // 1000}k"
    print(bench_line(f"scale.embeddings_exact_query_p50_{scale}_ms", exact_p50, "ms", "<", P50_TARGET_MS))
    print(bench_line(f"scale.embeddings_ann_query_p50_{scale}_ms", ann_p50, "ms", "<", P50_TARGET_MS))
    print(bench_line(f"scale.embeddings_ann_query_p95_{scale}_ms", ann_p95, "ms", "<", 2 * P50_TARGET_MS))
    print(bench_line(f"scale.embeddings_ann_recall_at_{K}_{scale}", recall, "ratio", ">=", RECALL_TARGET))
    print(bench_line(f"scale.embeddings_ann_build_{scale}_seconds", ann_build_s, "s", "<", 300))
    print(bench_line(f"scale.embeddings_ann_memory_{scale}_mb", ann_mb, "MB", "<", 4096))
    print(bench_line(f"scale.embeddings_ann_load_saved_{scale}_seconds", load_s, "s", "<", ann_build_s))
    if swept:
        rows_of_sweep = [
            [str(n), f"{percentiles(ms)[0]:.2f}", f"{percentiles(ms)[1]:.2f}", f"{_recall(found, exact_found):.4f}"]
            for n, (found, ms) in swept.items()
        ]
        print(f"\nnprobe sweep ({SWEEP_QUERIES} queries, {approximate_lists} lists):")
        print_table(["nprobe", "p50 ms", "p95 ms", f"recall@{K}"], rows_of_sweep)
    return 0


def _with_nprobe(index: VectorIndex, nprobe: int) -> VectorIndex:
    index._index.nprobe = nprobe  # type: ignore[union-attr]
    return index


def _recall(found: list[set[int]], truth: list[set[int]]) -> float:
    """Of the exact top K, the share found (over the first len(found) queries)."""
    pairs = list(zip(found, truth[: len(found)], strict=True))
    return sum(len(a & e) for a, e in pairs) / sum(len(e) for _, e in pairs)


if __name__ == "__main__":
    sys.exit(main())
