#!/usr/bin/env python
"""Near-duplicate detector: accuracy on third-party photos, and query time up to 1,000,000 entries.

1. Accuracy. The photos bundled with scikit-image (not drawn by this project) are fingerprinted
   into one index. Each is transformed (JPEG q=60, resize 70%, crop 85%, horizontal flip,
   brightness +15%, a text overlay) and queried: recall is the share of transformed copies whose
   matches include the right key. False positives: every query's matches with a wrong key
   (each photo's copies against all the other photos), and generated images (noise, gradients,
   checkerboards, shapes, flat colours) that must match nothing.
2. Speed. The same index plus N random 64-bit hashes (10k, 100k, 1M; synthetic entries carry no
   keypoints, only hashes); p50/p99 of the hash candidate stage and of a full query (hashes,
   descriptor votes, verification) for the transformed photos.

Run: `.venv/bin/python bench/near_duplicate.py [--sizes 10000,100000,1000000]`.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_line, print_table  # noqa: E402

from auditing.similarity.near_duplicate import Fingerprint, NearDuplicateIndex, fingerprint_image  # noqa: E402

PHOTOS = [
    "astronaut", "coffee", "chelsea", "camera", "rocket", "immunohistochemistry", "coins", "moon",
    "hubble_deep_field", "retina", "brick", "grass", "gravel", "page", "text", "clock",
    "colorwheel", "logo", "motorcycle",
]  # fmt: skip


def skimage_photo(name: str) -> Image.Image:
    import skimage.data

    if name == "motorcycle":
        # Only the left view: the right one is the same scene a few centimetres away, which a
        # keypoint check rightly calls a match.
        return Image.fromarray(skimage.data.stereo_motorcycle()[0])
    return Image.fromarray(getattr(skimage.data, name)())


def jpeg_60(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=60)
    return Image.open(io.BytesIO(buffer.getvalue()))


def resize_70(image: Image.Image) -> Image.Image:
    return image.resize((round(image.width * 0.7), round(image.height * 0.7)), Image.Resampling.BICUBIC)


def crop_85(image: Image.Image) -> Image.Image:
    width, height = round(image.width * 0.85), round(image.height * 0.85)
    left, top = (image.width - width) // 3, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def brightness_115(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image.convert("RGB")).enhance(1.15)


def text_overlay(image: Image.Image) -> Image.Image:
    out = image.convert("RGB")
    size = max(12, out.height // 10)
    ImageDraw.Draw(out).text((out.width // 20, out.height // 2), "© SAMPLE 2026", fill=(255, 255, 0), font_size=size)
    return out


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg_q60": jpeg_60,
    "resize_70": resize_70,
    "crop_85": crop_85,
    "flip": ImageOps.mirror,
    "brightness_115": brightness_115,
    "text_overlay": text_overlay,
}


def generated_images(count: int, seed: int = 7) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    images: list[Image.Image] = []
    for i in range(count):
        kind = i % 5
        size = (int(rng.integers(256, 640)), int(rng.integers(256, 640)))
        if kind == 0:
            array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        elif kind == 1:
            x = np.linspace(0, 1, size[0])[None, :, None]
            y = np.linspace(0, 1, size[1])[:, None, None]
            a, b = rng.random(3), rng.random(3)
            array = ((a * x + b * y) / 2 * 255).astype(np.uint8)
        elif kind == 2:
            cell = int(rng.integers(8, 64))
            yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
            array = (((xx // cell + yy // cell) % 2) * 255).astype(np.uint8)
        elif kind == 3:
            canvas = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 256, 3)))
            draw = ImageDraw.Draw(canvas)
            for _ in range(12):
                x0, y0 = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
                box = (x0, y0, x0 + int(rng.integers(10, 200)), y0 + int(rng.integers(10, 200)))
                fill = tuple(int(v) for v in rng.integers(0, 256, 3))
                (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
            images.append(canvas)
            continue
        else:
            array = np.full((size[1], size[0], 3), rng.integers(0, 256, 3), dtype=np.uint8)
        images.append(Image.fromarray(array))
    return images


def random_fingerprints(count: int, start: int, rng: np.random.Generator) -> list[tuple[str, Fingerprint]]:
    values = rng.integers(0, 2**63, (count, 3), dtype=np.int64).astype(object) * 2 + rng.integers(0, 2, (count, 3)).astype(object)
    return [(f"random-{start + i}", Fingerprint(int(p), int(d), int(f), 512, 512)) for i, (p, d, f) in enumerate(values)]


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--generated", type=int, default=50)
    args = parser.parse_args()

    photos = {name: skimage_photo(name) for name in PHOTOS}
    started = time.perf_counter()
    index = NearDuplicateIndex()
    for name, photo in photos.items():
        index.add(name, fingerprint_image(photo, include_mirror=False))
    fingerprint_ms = (time.perf_counter() - started) / len(photos) * 1000

    queries: list[tuple[str, str, Fingerprint]] = []
    for name, photo in photos.items():
        queries.append((name, "original", fingerprint_image(photo)))
        queries += [(name, transform, fingerprint_image(apply(photo))) for transform, apply in TRANSFORMS.items()]
    generated = [fingerprint_image(image) for image in generated_images(args.generated)]

    found_by_transform: dict[str, list[bool]] = {}
    wrong_queries, wrong_pairs, misses = 0, 0, []
    query_seconds: list[float] = []
    for name, transform, fingerprint in queries:
        began = time.perf_counter()
        matches = index.query(fingerprint, k=len(photos))
        query_seconds.append(time.perf_counter() - began)
        keys = {match.key for match in matches}
        if transform != "original":
            found_by_transform.setdefault(transform, []).append(name in keys)
            if name not in keys:
                misses.append(f"{name}/{transform}")
        wrong = keys - {name}
        wrong_pairs += len(wrong)
        wrong_queries += bool(wrong)
    generated_hits = sum(bool(index.query(fingerprint)) for fingerprint in generated)

    print(f"{len(photos)} scikit-image photos indexed, fingerprint {fingerprint_ms:.1f} ms each (no mirror)")
    rows = [[t, f"{sum(v)}/{len(v)}", f"{100 * sum(v) / len(v):.1f}%"] for t, v in found_by_transform.items()]
    print_table(["transform", "found", "recall"], rows)
    if misses:
        print("missed:", ", ".join(misses))
    transformed = [hit for values in found_by_transform.values() for hit in values]
    recall = 100 * sum(transformed) / len(transformed)
    unrelated_queries = len(queries) + len(generated)
    false_positive = 100 * (wrong_queries + generated_hits) / unrelated_queries
    pairs = len(queries) * (len(photos) - 1) + len(generated) * len(photos)
    print(
        f"false positives: {wrong_queries}/{len(queries)} photo queries returned a wrong photo "
        f"({wrong_pairs} wrong pairs of {pairs}), {generated_hits}/{len(generated)} generated images matched"
    )
    print(bench_line("near_duplicate_recall", recall, "%", ">=", 95))
    print(bench_line("near_duplicate_false_positive", false_positive, "%", "<=", 1))
    print(bench_line("near_duplicate_false_positive_pairs", 100 * (wrong_pairs + generated_hits) / pairs, "%", "<=", 1))

    rng = np.random.default_rng(1)
    rows, size_lines = [], []
    for size in [int(s) for s in args.sizes.split(",")]:
        missing = size - (len(index) - len(photos))
        began = time.perf_counter()
        index.add_many(random_fingerprints(missing, len(index), rng))
        build_s = time.perf_counter() - began
        hash_seconds, full_seconds = [], []
        for repeat in range(3):
            for _, _, fingerprint in queries:
                began = time.perf_counter()
                index.candidates(fingerprint, votes=False)
                hash_seconds.append(time.perf_counter() - began)
            if repeat == 0:
                for _, _, fingerprint in queries:
                    began = time.perf_counter()
                    index.query(fingerprint)
                    full_seconds.append(time.perf_counter() - began)
        rows.append(
            [
                f"{len(index):,}",
                f"+{build_s:.1f} s",
                f"{percentile_ms(hash_seconds, 50):.2f}",
                f"{percentile_ms(hash_seconds, 99):.2f}",
                f"{percentile_ms(full_seconds, 50):.1f}",
                f"{percentile_ms(full_seconds, 99):.1f}",
            ]
        )
        label = f"{size // 1_000_000}m" if size >= 1_000_000 else f"{size // 1000}k"
        size_lines.append(bench_line(f"near_duplicate_query_{label}", percentile_ms(hash_seconds, 50), "ms", "<", 50))
        size_lines.append(bench_line(f"near_duplicate_query_{label}_p99", percentile_ms(hash_seconds, 99), "ms", "<", 50))
        size_lines.append(bench_line(f"near_duplicate_full_query_{label}", percentile_ms(full_seconds, 50), "ms", "<", 200))
    print_table(["entries", "added", "hash p50 ms", "hash p99 ms", "full p50 ms", "full p99 ms"], rows)
    for line in size_lines:
        print(line)


if __name__ == "__main__":
    main()
