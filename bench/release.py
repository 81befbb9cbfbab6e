#!/usr/bin/env python
"""The release stage of one output on one CPU core: moderation, watermark (embed and the read-back
that decides whether it is claimed), fingerprint, PNG encoding, and C2PA signing with its Trusted
read-back, exactly as the worker runs them (generation/services/execution.py), at 512², 1024² and
2048².

1. A fresh embedded instance (SQLite, a temporary data folder): the demo, a snapshot approved by
   two reviewers, a LoRA trained for a few steps and one real job through the tiny model, whose
   output row, model and signing identity the release stage signs for.
2. The process is pinned to one core (sched_setaffinity; torch and OpenCV single-threaded).
3. Per size, R rounds over two third-party photos (scikit-image's astronaut and coffee, resized):
   each stage's median and the median of the rounds' totals.
4. Baseline, same run, at 1024²: the path before issue 16 (rivaGan v1 in its 512² working frame
   on onnxruntime float32, read back by the full detector; Pillow's PNG at its default level).
5. Guard rails, same run: bench/soft_binding.py (trace rates after JPEG q75, resize 50%, crop 10%
   and flip, false matches, PSNR) in a subprocess; its BENCH lines are repeated here.

Run: `.venv/bin/python bench/release.py [--rounds R] [--device cpu|cuda] [--skip-guard-rails]`
(~10 min on 2 cores with the guard rails, which bench/run_all.sh runs only here; ~2 min without).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import bench_line, django_setup, print_table

SIZES = (512, 1024, 2048)
TARGET_SIZE = 1024
TARGET_MS = 300
STAGES = ("moderation", "watermark", "fingerprint", "png", "sign")


def one_core() -> int:
    """Pin this process to one core; returns it."""
    import cv2
    import torch

    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    return core


def photos(size: int):
    from PIL import Image
    from skimage import data as samples

    return [
        Image.fromarray(getattr(samples, name)()).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
        for name in ("astronaut", "coffee")
    ]


def pillow_png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def release_round(image, job, *, before: bool = False) -> tuple[dict[str, float], bool, int]:
    """One output's release stage, timed per stage (ms); whether the mark was claimed; PNG bytes."""
    from generation.services.bindings import fingerprint_bytes, watermark_apply
    from generation.services.execution import _png
    from generation.services.manifest import output_sign
    from generation.services.moderation import moderate

    output, artifact = job.output, job.model
    times: dict[str, float] = {}

    def timed(name: str, step: Callable):
        began = time.perf_counter()
        result = step()
        times[name] = (time.perf_counter() - began) * 1000
        return result

    timed("moderation", lambda: moderate(image))
    if before:
        marked, embedded = timed("watermark", lambda: watermark_before(image, output.watermark_id))
    else:
        watermarking = timed("watermark", lambda: watermark_apply(image, output.watermark_id))
        marked, embedded = watermarking.image, watermarking.embedded
    timed("fingerprint", lambda: fingerprint_bytes(marked))
    png = timed("png", lambda: (pillow_png if before else _png)(marked))
    timed("sign", lambda: output_sign(png=png, job=job, output=output, artifact=artifact))
    return times, embedded, len(png)


def watermark_before(image, watermark_id: int):
    """The watermark stage as it was: v1's 512² frame, onnxruntime, the full detector as read-back."""
    from django.conf import settings

    from generation.watermark import detect_watermark, embed_watermark

    saved = settings.CLEANROOM_WATERMARK
    settings.CLEANROOM_WATERMARK = {**saved, "BACKEND": "rivagan-v1", "ENGINE": "onnxruntime"}
    try:
        marked = embed_watermark(image, watermark_id, verify=False)
        hit = detect_watermark(marked)
    finally:
        settings.CLEANROOM_WATERMARK = saved
    return marked, hit is not None and hit.payload == watermark_id


def measure(job, size: int, rounds: int, *, before: bool = False) -> dict:
    images = photos(size)
    release_round(images[0], job, before=before)  # models loaded, caches warm
    per_stage: dict[str, list[float]] = {stage: [] for stage in STAGES}
    totals, claimed, sizes = [], [], []
    for round_number in range(rounds):
        times, embedded, png_bytes = release_round(images[round_number % len(images)], job, before=before)
        for stage in STAGES:
            per_stage[stage].append(times[stage])
        totals.append(sum(times.values()))
        claimed.append(embedded)
        sizes.append(png_bytes)
    return {
        "stages": {stage: statistics.median(values) for stage, values in per_stage.items()},
        "total": statistics.median(totals),
        "claimed": sum(claimed),
        "rounds": rounds,
        "png_mb": statistics.median(sizes) / 1e6,
    }


def guard_rails() -> list[str]:
    """bench/soft_binding.py, in a subprocess: its BENCH lines."""
    script = Path(__file__).resolve().parent / "soft_binding.py"
    completed = subprocess.run([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    print(completed.stdout, end="")
    if completed.returncode != 0:
        raise SystemExit(f"soft_binding.py failed (exit {completed.returncode})")
    return [line for line in completed.stdout.splitlines() if line.startswith("BENCH ")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--baseline-rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="where the watermark runs (CLEANROOM_WATERMARK_DEVICE)")
    parser.add_argument("--skip-guard-rails", action="store_true", help="leave out bench/soft_binding.py")
    args = parser.parse_args()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-release-") as folder:
        os.environ.update(
            DATABASE_URL=f"sqlite:///{folder}/db.sqlite3", CLEANROOM_DATA_DIR=folder, CLEANROOM_AUDIT_ON_INGEST="false",
            CLEANROOM_GENERATION_DEVICE="cpu", CLEANROOM_TRAINING_DEVICE="cpu", HF_HUB_OFFLINE="1",
            CLEANROOM_WATERMARK_DEVICE=args.device,
        )  # fmt: skip
        django_setup()
        from output_provenance import build_world

        from generation.watermarks.rivagan_engines import engine

        job = build_world(256, 1)[0]
        core = one_core()
        watermark_engine = engine()
        placed = ""
        if watermark_engine.name == "torch":
            placed = f" ({getattr(watermark_engine, 'dtype', '')} on {getattr(watermark_engine, 'device', '')})"
        print(f"one core (cpu {core}); watermark engine: {watermark_engine.name}{placed}")
        results = {size: measure(job, size, args.rounds) for size in SIZES}
        baseline = measure(job, TARGET_SIZE, args.baseline_rounds, before=True)

    rows = []
    for label, figures in [*((f"{size}² now", results[size]) for size in SIZES), (f"{TARGET_SIZE}² before", baseline)]:
        rows.append(
            [label]
            + [f"{figures['stages'][stage]:.1f}" for stage in STAGES]
            + [f"{figures['total']:.0f}", f"{figures['claimed']}/{figures['rounds']}", f"{figures['png_mb']:.2f}"]
        )
    print_table(["release stage, ms (median)", *STAGES, "total", "mark claimed", "PNG MB"], rows)
    now, before = results[TARGET_SIZE]["total"], baseline["total"]
    elapsed = time.perf_counter() - started
    print(f"{TARGET_SIZE}²: {before:.0f} ms before, {now:.0f} ms now ({before / now:.1f}× faster); {elapsed:.0f} s")
    lines = [] if args.skip_guard_rails else guard_rails()
    print(bench_line(f"release_stage_ms_{TARGET_SIZE}", now, "ms", "<=", TARGET_MS))
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
