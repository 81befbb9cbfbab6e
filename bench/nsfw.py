#!/usr/bin/env python
"""NSFW detector speed: warm milliseconds per image over scikit-image's bundled photos.

1. Load the photos (third-party, benign) as PIL images and warm the detector up once.
2. `NudeNetDetector.detect` (single-threaded onnxruntime session, vectorised decoding) over
   every photo, R rounds; ms per image = total time / detections.
3. The same loop's CPU time per image (the figure that holds on a busy shared machine).
4. For comparison, nudenet's own `NudeDetector.detect` on the same BGR arrays (its default
   onnxruntime threading and its Python-loop post-processing).

Run: `.venv/bin/python bench/nsfw.py [--rounds R]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import bench_line, print_table

TARGET_MS = 60.0
PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "rocket", "coins", "immunohistochemistry", "hubble_deep_field")


def photos() -> dict[str, Image.Image]:
    from skimage import data

    return {name: Image.fromarray(getattr(data, name)()) for name in PHOTOS}


def per_image_ms(images: list, detect: Callable[[object], object], rounds: int) -> list[float]:
    for image in images:
        detect(image)
    timings: list[float] = []
    for _ in range(rounds):
        for image in images:
            started = time.perf_counter()
            detect(image)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def cpu_ms_per_image(images: list, detect: Callable[[object], object], rounds: int) -> float:
    # CPU time of this process: on a shared, busy machine wall time also counts waiting for a core.
    started = time.process_time()
    for _ in range(rounds):
        for image in images:
            detect(image)
    return (time.process_time() - started) * 1000 / (rounds * len(images))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    from nudenet import NudeDetector

    from auditing.detectors.nsfw.nudenet import NudeNetDetector

    images = photos()
    detector = NudeNetDetector()
    started = time.perf_counter()
    detector.detect(images["astronaut"])
    cold_ms = (time.perf_counter() - started) * 1000

    rows = []
    for name, image in images.items():
        timings = per_image_ms([image], detector.detect, args.rounds)
        result = detector.detect(image)
        found = ", ".join(f"{e['label']} {e['score']:.2f}" for e in result.labels) or "-"
        rows.append([name, f"{image.width}x{image.height}", f"{statistics.median(timings):.1f}", result.flagged, found])
    print_table(["photo", "size", "median ms", "flagged", "labels"], rows)

    ours = per_image_ms(list(images.values()), detector.detect, args.rounds)
    ours_cpu = cpu_ms_per_image(list(images.values()), detector.detect, args.rounds)
    bgr = [np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1]) for image in images.values()]
    stock = per_image_ms(bgr, NudeDetector().detect, args.rounds)
    print()
    print(f"first detection (loads the model): {cold_ms:.0f} ms")
    print(
        f"NudeNetDetector.detect, warm: mean {statistics.fmean(ours):.1f} ms, "
        f"p50 {statistics.median(ours):.1f} ms over {len(ours)}"
    )
    print(
        f"nudenet NudeDetector.detect (stock), warm: mean {statistics.fmean(stock):.1f} ms, p50 {statistics.median(stock):.1f} ms"
    )
    print(
        f"NudeNetDetector.detect, CPU time: {ours_cpu:.1f} ms per image "
        f"(machine load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(bench_line("nsfw_ms_per_image", statistics.fmean(ours), "ms", "<", TARGET_MS))


if __name__ == "__main__":
    main()
