#!/usr/bin/env python
"""Soft bindings: how often a stripped copy of an output is traced back, and how often an image
that is not ours is matched to an output.

Outputs ("ours"): third-party photos (scikit-image's, resized to 512²) and generated-looking
images (procedural scenes and cloud textures, 512²). Each gets its own watermark id
(generation.watermark, rivaGan + BCH) and, watermarked, goes into a fingerprint registry
(auditing.detectors: `fingerprint_image` into a `NearDuplicateIndex`) together with
fingerprint-only distractor entries, as the output registry holds many outputs.

Each output is transformed (none, JPEG q=90/75/50, resize 50%, crop 10%, horizontal flip) and:
- watermark bit accuracy: raw hard decisions (the better of as-is and mirrored) against the 64
  embedded bits; decode rate: `detect_watermark` returns the right id;
- fingerprint trace: the top verified match of the registry is the right output;
- combined trace: either; wrong attributions: a watermark id or a top match naming another output.

Not ours (--negatives, default 1,000): crops, rotations, colour shifts and rescales of photos kept
out of the registry, procedural scenes and textures of other seeds, noise, gradients, flat
colours, checkerboards, shapes. All go through the fingerprint registry; a subset
(--wm-negatives, default 60; --full: all) through the watermark detector (~2 s each), plus
images carrying someone else's rivaGan watermark (a random 32-bit word embedded with
invisible-watermark's own API) and random 64-bit words in our own two-half layout: strong marks
that are not codewords of ours. Both bindings must report nothing.

Run: `.venv/bin/python bench/soft_binding.py [--full]` (default ~8-10 min on 2 cores, --full ~45 min).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageOps

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_line, print_table  # noqa: E402

from auditing.similarity.fingerprint import fingerprint_image  # noqa: E402
from auditing.similarity.index import NearDuplicateIndex  # noqa: E402
from generation import watermark  # noqa: E402
from generation.watermark import (  # noqa: E402
    WatermarkNotApplicable,
    detect_watermark,
    embed_watermark,
    payload_word,
    read_watermark,
)
from generation.watermarks import rivagan  # noqa: E402

SIZE = 512
# Registry photos, and photos that are never registered (the "not ours" variants come from these).
# The right view of the stereo motorcycle is left out: it is the same scene as the left one.
OUR_PHOTOS = [
    "astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "hubble_deep_field",
    "immunohistochemistry", "motorcycle_left", "page", "grass", "cell",
]  # fmt: skip
OTHER_PHOTOS = ["moon", "retina", "brick", "gravel", "text", "clock", "colorwheel", "logo", "horse"]


def skimage_photo(name: str) -> Image.Image:
    import skimage.data

    if name == "motorcycle_left":
        array = skimage.data.stereo_motorcycle()[0]
    elif name == "horse":
        array = (~skimage.data.horse()).astype(np.uint8) * 255
    else:
        array = getattr(skimage.data, name)()
    image = Image.fromarray(array)
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    return image.convert("RGB")


# --- generated-looking images -------------------------------------------------------------------


def _blurred_noise(rng: np.random.Generator, sigma: float, shape: tuple[int, ...] = (SIZE, SIZE)) -> np.ndarray:
    field = cv2.GaussianBlur(rng.normal(size=shape).astype(np.float32), (0, 0), sigma)
    return field / (field.std() + 1e-6)


def procedural_scene(rng: np.random.Generator) -> Image.Image:
    """Sky, clouds, ridged hills with textured fill, soft blobs, fine grain: a landscape-ish render."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    top, bottom = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = top * (1 - y[..., None]) + bottom * y[..., None]
    image += (_blurred_noise(rng, rng.uniform(12, 30)) * rng.uniform(8, 25))[..., None]
    for _layer in range(int(rng.integers(2, 5))):
        ridge = rng.uniform(0.35, 0.85) + sum(
            rng.uniform(0.01, 0.08) * np.sin(2 * np.pi * rng.uniform(0.5, 6) * x[0] + rng.uniform(0, 2 * np.pi)) for _ in range(3)
        )
        mask = y > ridge[None, :]
        texture = _blurred_noise(rng, rng.uniform(0.8, 4)) * rng.uniform(6, 30)
        shade = (y - ridge[None, :]) * rng.uniform(-120, 120)
        colour = rng.uniform(0, 255, 3)
        image[mask] = (colour + (texture + shade)[..., None])[mask]
    for _ in range(int(rng.integers(3, 10))):
        cx, cy, rx, ry = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.02, 0.15), rng.uniform(0.02, 0.15)
        blob = np.exp(-(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2))[..., None]
        image = image * (1 - blob) + rng.uniform(0, 255, 3) * blob
    image += (_blurred_noise(rng, 0.7) * rng.uniform(2, 6))[..., None]
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def procedural_clouds(rng: np.random.Generator) -> Image.Image:
    """Multi-scale coloured noise ("plasma"), as abstract generated art tends to look."""
    octaves = [
        _blurred_noise(rng, sigma, (SIZE, SIZE, 3)) * weight for sigma, weight in ((40, 1.0), (12, 0.5), (3, 0.25), (1, 0.1))
    ]
    field = sum(octaves)
    field = (field - field.min()) / (field.max() - field.min())
    palette = rng.uniform(0, 255, (2, 3))
    image = palette[0] * (1 - field) + palette[1] * field
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def generated_image(rng: np.random.Generator) -> Image.Image:
    return procedural_scene(rng) if rng.random() < 0.6 else procedural_clouds(rng)


# --- transforms ---------------------------------------------------------------------------------


def jpeg(quality: int) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    return apply


def resize_50(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.BICUBIC)


def crop_10(image: Image.Image) -> Image.Image:
    # 10% off each dimension, off-centre (a third left, two thirds right).
    width, height = round(image.width * 0.9), round(image.height * 0.9)
    left, top = (image.width - width) // 3, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "none": lambda image: image,
    "jpeg90": jpeg(90),
    "jpeg75": jpeg(75),
    "jpeg50": jpeg(50),
    "resize50": resize_50,
    "crop10": crop_10,
    "flip": ImageOps.mirror,
}
TARGETS = ("jpeg75", "resize50", "crop10", "flip")


# --- images that are not ours -------------------------------------------------------------------


def photo_variant(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    width, height = photo.size
    scale_w, scale_h = rng.uniform(0.3, 0.9, 2)
    w, h = int(width * scale_w), int(height * scale_h)
    left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    image = photo.crop((left, top, left + w, top + h)).rotate(float(rng.uniform(-30, 30)), resample=Image.Resampling.BICUBIC)
    image = ImageEnhance.Color(image).enhance(float(rng.uniform(0.3, 1.7)))
    image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.7, 1.3)))
    array = np.asarray(image, dtype=np.float32) + rng.uniform(-30, 30, 3)
    image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    side = int(rng.integers(256, 768))
    image = image.resize((side, max(64, int(side * rng.uniform(0.6, 1.6)))), Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    if rng.random() < 0.5:
        image = jpeg(int(rng.integers(40, 95)))(image)
    return image


def synthetic_image(kind: int, rng: np.random.Generator) -> Image.Image:
    width, height = int(rng.integers(256, 768)), int(rng.integers(256, 768))
    if kind == 0:
        return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    if kind == 1:
        x = np.linspace(0, 1, width)[None, :, None]
        y = np.linspace(0, 1, height)[:, None, None]
        return Image.fromarray(((rng.random(3) * x + rng.random(3) * y) / 2 * 255).astype(np.uint8))
    if kind == 2:
        return Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(0, 256, 3)))
    if kind == 3:
        cell = int(rng.integers(8, 64))
        yy, xx = np.mgrid[0:height, 0:width]
        return Image.fromarray((((xx // cell + yy // cell) % 2) * 255).astype(np.uint8)).convert("RGB")
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frequency = rng.uniform(0.01, 0.3)
    channels = [127 + 127 * np.sin(frequency * (xx * c + yy * (1 - c)) + rng.uniform(0, 6)) for c in rng.random(3)]
    return Image.fromarray(np.stack(channels, -1).astype(np.uint8))


def not_ours(count: int, seed: int) -> list[tuple[str, Image.Image]]:
    rng = np.random.default_rng(seed)
    photos = {name: skimage_photo(name) for name in OTHER_PHOTOS}
    images: list[tuple[str, Image.Image]] = []
    for i in range(count):
        slot = i % 10
        if slot < 4:
            name = OTHER_PHOTOS[int(rng.integers(0, len(OTHER_PHOTOS)))]
            images.append((f"photo:{name}", photo_variant(photos[name], rng)))
        elif slot < 7:
            images.append(("generated", generated_image(rng)))
        else:
            kind = int(rng.integers(0, 5))
            images.append(
                (f"synthetic:{['noise', 'gradient', 'flat', 'checkerboard', 'waves'][kind]}", synthetic_image(kind, rng))
            )
    return images


def foreign_rivagan(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Someone else's watermark: a random 32-bit word embedded with invisible-watermark's API."""
    from imwatermark import WatermarkEncoder  # imports torch: only here

    encoder = WatermarkEncoder()
    encoder.loadModel()
    encoder.set_watermark("bits", [int(b) for b in rng.integers(0, 2, 32)])
    bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
    return Image.fromarray(np.ascontiguousarray(encoder.encode(bgr, "rivaGan")[:, :, ::-1]))


def foreign_layout(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random 64-bit word (almost surely not a codeword) in our own two-half layout."""
    return rivagan.embed_bits(image.convert("RGB"), rng.integers(0, 2, 64))


# --- the run ------------------------------------------------------------------------------------


def ms(seconds: list[float]) -> float:
    return float(np.median(seconds) * 1000) if seconds else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=8, help="registry photos, watermarked and transformed (max 12)")
    parser.add_argument("--generated", type=int, default=8, help="generated-looking outputs, watermarked and transformed")
    parser.add_argument("--distractors", type=int, default=300, help="fingerprint-only registry entries")
    parser.add_argument("--negatives", type=int, default=1000, help="images that are not ours")
    parser.add_argument("--wm-negatives", type=int, default=60, help="of those, how many also go through the watermark")
    parser.add_argument("--foreign", type=int, default=4, help="images with a foreign rivaGan mark, per kind")
    parser.add_argument("--full", action="store_true", help="12 photos, 24 generated, every negative through the watermark")
    args = parser.parse_args()
    if args.full:
        args.photos, args.generated, args.wm_negatives, args.foreign = len(OUR_PHOTOS), 24, args.negatives, 20
    started = time.perf_counter()
    rng = np.random.default_rng(2026)

    # Outputs: watermark ids far apart in the id space, as a long-running registry would have.
    originals = [(f"photo:{name}", skimage_photo(name).resize((SIZE, SIZE), Image.Resampling.LANCZOS)) for name in OUR_PHOTOS]
    originals = originals[: args.photos] + [(f"generated:{i}", generated_image(rng)) for i in range(args.generated)]
    outputs: list[tuple[str, Image.Image, int | None]] = []
    embed_seconds, unmarked, psnrs = [], [], []
    for key, image in originals:
        payload = int(rng.integers(1, 2**watermark.PAYLOAD_BITS))
        began = time.perf_counter()
        try:
            marked = embed_watermark(image, payload)
        except WatermarkNotApplicable:
            unmarked.append(key)
            outputs.append((key, image, None))
            continue
        embed_seconds.append(time.perf_counter() - began)
        difference = np.asarray(marked, np.float64) - np.asarray(image, np.float64)
        psnrs.append(10 * np.log10(255**2 / np.mean(difference**2)))
        outputs.append((key, marked, payload))
    payload_owner = {payload: key for key, _, payload in outputs if payload is not None}

    index = NearDuplicateIndex()
    began = time.perf_counter()
    index.add_many((key, fingerprint_image(image, include_mirror=False)) for key, image, _ in outputs)
    index.add_many(
        (f"distractor:{i}", fingerprint_image(generated_image(rng), include_mirror=False)) for i in range(args.distractors)
    )
    registry_s = time.perf_counter() - began
    print(
        f"{len(outputs)} outputs ({args.photos} photos, {args.generated} generated; {len(unmarked)} could not carry the watermark"
        f"{': ' + ', '.join(unmarked) if unmarked else ''}), registry of {len(index)} fingerprints built in {registry_s:.1f} s"
    )

    results: dict[str, dict[str, list]] = {name: {"bits": [], "wm": [], "fp": [], "any": []} for name in TRANSFORMS}
    wrong: list[str] = []
    missed: dict[str, list[str]] = {name: [] for name in TRANSFORMS}
    unread: dict[str, list[str]] = {name: [] for name in TRANSFORMS}
    detect_seconds, query_seconds = [], []
    for key, image, payload in outputs:
        for name, transform in TRANSFORMS.items():
            copy = transform(image)
            began = time.perf_counter()
            reading = read_watermark(copy)
            hit = reading.hit() if reading is not None else None
            detect_seconds.append(time.perf_counter() - began)
            began = time.perf_counter()
            matches = index.query(fingerprint_image(copy), k=1)
            query_seconds.append(time.perf_counter() - began)
            by_watermark = hit is not None and hit.payload == payload
            by_fingerprint = bool(matches) and matches[0].key == key
            if hit is not None and hit.payload != payload:
                wrong.append(f"{key}/{name}: watermark says {payload_owner.get(hit.payload, hit.payload)}")
            if matches and matches[0].key != key:
                wrong.append(f"{key}/{name}: fingerprint says {matches[0].key}")
            if payload is not None:
                word = payload_word(payload)
                accuracy = max(float(np.mean(reading.bits(a) == word)) for a in range(len(reading.scores))) if reading else 0.5
                results[name]["bits"].append(accuracy)
                results[name]["wm"].append(by_watermark)
                if not by_watermark:
                    unread[name].append(key)
            results[name]["fp"].append(by_fingerprint)
            results[name]["any"].append(by_watermark or by_fingerprint)
            if not (by_watermark or by_fingerprint):
                missed[name].append(key + ("" if payload is not None else " (no watermark)"))

    def rate(values: list) -> float:
        return float(np.mean(values)) if values else float("nan")

    rows = [
        [
            name,
            f"{rate(r['bits']):.3f}",
            f"{sum(r['wm'])}/{len(r['wm'])}",
            f"{sum(r['fp'])}/{len(r['fp'])}",
            f"{sum(r['any'])}/{len(r['any'])}",
            f"{100 * rate(r['any']):.1f}%",
        ]
        for name, r in results.items()
    ]
    print_table(["transform", "wm bit acc", "wm decoded", "fp traced", "traced (either)", "trace rate"], rows)
    for name, keys in unread.items():
        if keys:
            print(f"watermark not read after {name}: {', '.join(keys)}")
    for name, keys in missed.items():
        if keys:
            print(f"not traced after {name}: {', '.join(keys)}")
    if wrong:
        print("wrong attributions:", "; ".join(wrong))

    # Not ours.
    negatives = not_ours(args.negatives, seed=99)
    fp_hits, wm_hits = [], []
    for i, (kind, image) in enumerate(negatives):
        if index.query(fingerprint_image(image), k=1):
            fp_hits.append(f"{i}:{kind}")
    checked = negatives[: args.wm_negatives]
    foreign_rng = np.random.default_rng(5)
    foreign = []
    for i in range(args.foreign):
        base = generated_image(foreign_rng) if i % 2 else skimage_photo(OTHER_PHOTOS[i % len(OTHER_PHOTOS)]).resize((SIZE, SIZE))
        foreign.append(("foreign:invisible-watermark", foreign_rivagan(base, foreign_rng)))
        foreign.append(("foreign:our-layout", foreign_layout(base, foreign_rng)))
    for kind, image in checked + foreign:
        hit = detect_watermark(image)
        if hit is not None:
            wm_hits.append(f"{kind} → {hit.payload} (bound {hit.false_positive_bound:.1e})")
    print(
        f"not ours: {len(negatives)} images, fingerprint matched {len(fp_hits)}"
        f"{' (' + ', '.join(fp_hits[:10]) + ')' if fp_hits else ''}; watermark checked on {len(checked)} of them "
        f"and {len(foreign)} images with foreign rivaGan marks, "
        f"detected {len(wm_hits)}{' (' + '; '.join(wm_hits) + ')' if wm_hits else ''}"
    )
    false_matches = len(fp_hits) + len(wm_hits) + len(wrong)
    print(
        f"watermark: embed {ms(embed_seconds):.0f} ms (median, incl. read-back), detect {ms(detect_seconds):.0f} ms "
        f"(median over the transformed copies; it stops at the first hit), "
        f"PSNR {np.median(psnrs):.1f} dB (min {min(psnrs):.1f}); fingerprint + query {ms(query_seconds):.0f} ms; "
        f"total {time.perf_counter() - started:.0f} s"
    )
    for name in TARGETS:
        print(bench_line(f"soft_binding_trace_{name}", rate(results[name]["any"]), "ratio", ">=", 0.95))
    for name in TARGETS:
        print(bench_line(f"watermark_decode_{name}", rate(results[name]["wm"]), "ratio", ">=", 0.9))
    print(bench_line("watermark_bit_accuracy_jpeg75", rate(results["jpeg75"]["bits"]), "ratio", ">=", 0.95))
    print(bench_line("soft_binding_false_matches", false_matches, "count", "<=", 0))
    print(bench_line("watermark_embed_ms", ms(embed_seconds), "ms", "<=", 2500))
    print(bench_line("watermark_detect_ms", ms(detect_seconds), "ms", "<=", 2500))
    print(bench_line("watermark_psnr_db", float(np.median(psnrs)), "dB", ">=", 38))


if __name__ == "__main__":
    main()
