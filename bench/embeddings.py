#!/usr/bin/env python
"""Open_clip embeddings in the auditors: embedding time, the embedding candidate stage at scale,
and the CLIP NSFW backend, with a tiny model built from a config (no real CLIP weights can be had
here; `--model ViT-B-32` measures that architecture with random weights, ~600 MB written to a
temp folder).

1. Embedding: scikit-image's photos through `OpenClipModel.embed`, one image per call and in
   batches of 8; warm milliseconds per image (torch single-threaded, as in a worker).
2. Candidate search: a `NearDuplicateIndex` of N random fingerprints, each with a random unit
   vector of `--dim` dimensions (512: ViT-B; 768: ViT-L), N = 10k and 100k; p50/p99 of the
   candidate stage with and without the embedding search (exact inner product, one thread).
3. CLIP NSFW: `ClipNsfwDetector` with the same model and a linear head, ms per image.

Run: `HF_HUB_OFFLINE=1 .venv/bin/python bench/embeddings.py [--sizes 10000,100000] [--dim 512] [--model tiny]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_line, print_table  # noqa: E402

PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "rocket", "coins", "immunohistochemistry", "hubble_deep_field")
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def photos() -> list[Image.Image]:
    from skimage import data

    return [Image.fromarray(getattr(data, name)()) for name in PHOTOS]


def write_model(folder: Path, architecture: str) -> tuple[str, Path]:
    """(MODEL setting, weights file) for random weights of `architecture` ("tiny" or built-in)."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    model_setting = architecture
    if architecture == "tiny":
        config = folder / "bench-tiny-clip.json"
        config.write_text(json.dumps(TINY_CONFIG))
        open_clip.add_model_config(config)
        model_setting, architecture = str(config), config.stem
    torch.manual_seed(0)
    model = open_clip.create_model(architecture, pretrained=None)
    weights = folder / f"{architecture}.safetensors"
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(weights))
    return model_setting, weights


def ms(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--model", default="tiny", help="'tiny', or a built-in open_clip architecture (random weights)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from auditing.detectors.nsfw.clip import ClipNsfwDetector
    from auditing.similarity.embeddings import OpenClipModel
    from auditing.similarity.near_duplicate import Fingerprint, NearDuplicateIndex, fingerprint_image

    images = photos()
    with tempfile.TemporaryDirectory() as folder:
        model_setting, weights = write_model(Path(folder), args.model)
        encoder = OpenClipModel(model=model_setting, weights=str(weights))
        started = time.perf_counter()
        encoder.embed(images[:1])
        cold_s = time.perf_counter() - started
        single, batched = [], []
        for _ in range(args.rounds):
            for image in images:
                began = time.perf_counter()
                encoder.embed([image])
                single.append(time.perf_counter() - began)
            began = time.perf_counter()
            encoder.embed(images)
            batched.append((time.perf_counter() - began) / len(images))

        rng = np.random.default_rng(0)
        head = Path(folder) / "head.npz"
        np.savez(head, **{"layers.0.weight": rng.normal(size=(1, encoder.embed_dim)), "layers.0.bias": np.zeros(1)})
        detector = ClipNsfwDetector(str(weights), model_name=model_setting, head_path=str(head))
        detector.detect(images[0])
        nsfw = []
        for _ in range(args.rounds):
            for image in images:
                began = time.perf_counter()
                detector.detect(image)
                nsfw.append(time.perf_counter() - began)

    print(f"model {args.model}: first embedding (loads the weights) {cold_s:.1f} s")
    print(
        f"embed one image per call: p50 {ms(single, 50):.1f} ms; "
        f"in batches of {len(images)}: {statistics.median(batched) * 1000:.1f} ms per image"
    )
    print(f"CLIP NSFW detect (embedding + linear head): p50 {ms(nsfw, 50):.1f} ms, p99 {ms(nsfw, 99):.1f} ms")
    label = "tiny" if args.model == "tiny" else args.model.lower().replace("-", "_")
    print(bench_line(f"embedding_ms_per_image_{label}", ms(single, 50), "ms", "<", 50))
    print(bench_line(f"nsfw_clip_ms_per_image_{label}", ms(nsfw, 50), "ms", "<", 60))

    queries = [fingerprint_image(image) for image in images]
    rows, lines = [], []
    index = NearDuplicateIndex(embedding_model="bench")
    for size in [int(s) for s in args.sizes.split(",")]:
        missing = size - len(index)
        hashes = rng.integers(0, 2**63, (missing, 3), dtype=np.int64)
        vectors = rng.normal(size=(missing, args.dim)).astype(np.float32)
        keys = [f"random-{len(index) + i}" for i in range(missing)]
        began = time.perf_counter()
        index.add_many(
            [(key, Fingerprint(int(p), int(d), int(f), 512, 512)) for key, (p, d, f) in zip(keys, hashes, strict=True)],
            embeddings=dict(zip(keys, vectors, strict=True)),
        )
        build_s = time.perf_counter() - began
        query_vectors = rng.normal(size=(len(queries), args.dim)).astype(np.float32)
        plain, with_embeddings, embedding_only = [], [], []
        for _ in range(args.rounds):
            for fingerprint, vector in zip(queries, query_vectors, strict=True):
                for bucket, options in (
                    (plain, {}),
                    (with_embeddings, {"embedding": vector}),
                    (embedding_only, {"embedding": vector, "hashes": False}),
                ):
                    began = time.perf_counter()
                    index.candidates(fingerprint, votes=False, min_similarity=-1.0, **options)
                    bucket.append(time.perf_counter() - began)
        rows.append(
            [
                f"{len(index):,}",
                f"+{build_s:.1f} s",
                f"{ms(plain, 50):.2f}",
                f"{ms(with_embeddings, 50):.2f}",
                f"{ms(with_embeddings, 99):.2f}",
                f"{ms(embedding_only, 50):.2f}",
            ]
        )
        name = f"{size // 1000}k"
        lines.append(bench_line(f"near_duplicate_embedding_query_{name}_d{args.dim}", ms(with_embeddings, 50), "ms", "<", 50))
        lines.append(bench_line(f"near_duplicate_embedding_query_{name}_d{args.dim}_p99", ms(with_embeddings, 99), "ms", "<", 50))
    print(f"\ncandidate stage (hashes, no descriptor votes), vectors of dimension {args.dim}:")
    print_table(["entries", "added", "hash p50 ms", "+embeddings p50 ms", "+embeddings p99 ms", "embeddings only p50 ms"], rows)
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
