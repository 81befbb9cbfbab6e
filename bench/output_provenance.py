#!/usr/bin/env python
"""Provenance overhead: what moderation, the watermark and C2PA signing cost per output.

1. A fresh embedded instance (SQLite, a temporary data folder): the demo (signing identity,
   approved tiny base model, approved images), a snapshot approved by two reviewers, a LoRA
   trained for a few steps, then real generation jobs through the service the `gpu` worker
   runs (inpainting a photo, so the output is textured enough to carry the watermark).
2. From the jobs' own stage timings: the share of total generation time spent on provenance
   (moderation + watermark + fingerprint + sign) on this CPU.
3. On one released output, R rounds each, in the same run:
   - `sign_image` (the platform's signer: manifest with lineage, training-mining and soft
     bindings, the model's ingredient archive, the configured signer) against a bare
     c2pa-python `Builder.sign` of the same manifest, archive and key (signer made once):
     the headline ratio, `provenance_sign_vs_bare_sdk` (target <= 1.2);
   - the platform's release signing (`output_sign`, which reads the manifest back and refuses
     to release anything that is not Trusted), moderation, and the watermark (embed + the
     read-back that decides whether it is claimed).

Run: `.venv/bin/python bench/output_provenance.py [--rounds R] [--jobs J] [--size PX]`.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import bench_line, demo_trained_model, django_setup, print_table


def median_ms(function, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def build_world(size: int, jobs: int):
    import numpy as np
    from PIL import Image
    from skimage import data as samples

    from generation.models import GenerationJob
    from generation.services.execution import job_run
    from generation.services.requests import generation_request

    artifact, product = demo_trained_model(steps=4)
    model_id = str(artifact.pk)

    def png(image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    photo = Image.fromarray(samples.astronaut()).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[size - size // 8 :, : size // 8] = 255
    done = []
    for seed in range(jobs):
        job = generation_request(
            model_id=model_id, kind="inpaint", parameters={"prompt": "a small red kite", "steps": 4},
            seed=seed, image=png(photo), mask=png(Image.fromarray(mask, mode="L")), actor=product,
        )  # fmt: skip
        status = job_run(job_id=str(job.pk), task_id=job.task_id)
        assert status == "succeeded", (status, GenerationJob.objects.get(pk=job.pk).error)
        done.append(GenerationJob.objects.select_related("output", "model__snapshot", "model__base_model").get(pk=job.pk))
    return done


def bare_sdk_signer(job):
    """The same manifest, archive and key, through c2pa-python alone; the Signer made once."""
    import c2pa
    from django.conf import settings

    from core.storage import blob_open
    from generation.services.manifest import OUTPUT_MIME_TYPE, output_assertions

    output, artifact = job.output, job.model
    manifest = {
        "claim_generator_info": [{"name": "bare", "version": "1"}],
        "title": f"output {output.pk}",
        "format": OUTPUT_MIME_TYPE,
        "assertions": output_assertions(job=job, output=output, artifact=artifact),
    }
    with blob_open(artifact.ingredient_archive_sha256) as handle:
        archive = handle.read()
    signer_files = settings.CLEANROOM_SIGNER
    info = c2pa.C2paSignerInfo(
        alg=b"es256",
        sign_cert=Path(signer_files["CERT_CHAIN"]).read_bytes(),
        private_key=Path(signer_files["KEY"]).read_bytes(),
        ta_url=None,
    )
    signer = c2pa.Signer.from_info(info)
    # The same settings as the platform's: no network, no thumbnail, and the organisation's
    # anchors, which decide what the SDK records about the nested ingredient's validation (part
    # of the manifest, so "the same manifest" needs them).
    context = c2pa.Context.from_dict(
        {
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            "core": {"allowed_network_hosts": []},
            "builder": {"thumbnail": {"enabled": False}},
            "trust": {"user_anchors": Path(signer_files["TRUST_ANCHORS"]).read_text()},
        }
    )

    def sign(image: bytes) -> bytes:
        signed = io.BytesIO()
        with c2pa.Builder(manifest, context=context) as builder:
            builder.set_intent(c2pa.C2paBuilderIntent.CREATE, c2pa.C2paDigitalSourceType.TRAINED_ALGORITHMIC_MEDIA)
            builder.add_ingredient_from_archive(io.BytesIO(archive))
            builder.sign(signer, OUTPUT_MIME_TYPE, io.BytesIO(image), signed)
        return signed.getvalue()

    return sign


def measure(jobs: list, rounds: int) -> dict:
    from PIL import Image

    from core.storage import blob_open
    from generation.services.bindings import watermark_apply
    from generation.services.manifest import OUTPUT_MIME_TYPE, model_ingredient, output_assertions, output_sign
    from generation.services.moderation import moderate
    from provenance.c2pa.manifests import read_manifest, sign_image

    job = jobs[0]
    output, artifact = job.output, job.model
    with blob_open(output.sha256) as handle:
        signed = handle.read()
    image = Image.open(io.BytesIO(signed)).convert("RGB")
    unsigned = io.BytesIO()
    image.save(unsigned, format="PNG")
    unsigned_png = unsigned.getvalue()

    bare = bare_sdk_signer(job)
    assert read_manifest(bare(unsigned_png), OUTPUT_MIME_TYPE).trusted

    def ours() -> bytes:
        return sign_image(
            image=unsigned_png, mime_type=OUTPUT_MIME_TYPE, title=f"output {output.pk}",
            assertions=output_assertions(job=job, output=output, artifact=artifact),
            ingredients=[model_ingredient(artifact)], digital_source_type="trainedAlgorithmicMedia", thumbnail=False,
        )  # fmt: skip

    # Interleaved, so a noisy neighbour hurts both sides alike.
    ours_ms, bare_ms = [], []
    for _ in range(3):
        ours_ms.append(median_ms(ours, rounds))
        bare_ms.append(median_ms(lambda: bare(unsigned_png), rounds))
    release_ms = median_ms(lambda: output_sign(png=unsigned_png, job=job, output=output, artifact=artifact), rounds)
    moderation_ms = median_ms(lambda: moderate(image), rounds)
    watermark_ms = median_ms(lambda: watermark_apply(image, output.watermark_id), max(2, rounds // 10))

    stage_totals = [sum(j.stage_ms.values()) for j in jobs]
    provenance_stages = [sum(j.stage_ms.get(k, 0) for k in ("moderation", "watermark", "fingerprint", "sign")) for j in jobs]
    return {
        "image": f"{image.width}x{image.height}",
        "sign_ours_ms": min(ours_ms),
        "sign_bare_ms": min(bare_ms),
        "release_sign_ms": release_ms,
        "moderation_ms": moderation_ms,
        "watermark_ms": watermark_ms,
        "watermarked": output.watermark_embedded,
        "job_stage_ms": [j.stage_ms for j in jobs],
        "share_of_generation": statistics.median(p / t for p, t in zip(provenance_stages, stage_totals, strict=True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--size", type=int, default=512, help="output side in pixels (rivaGan needs >= 256)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-provenance-") as folder:
        os.environ.update(
            DATABASE_URL=f"sqlite:///{folder}/db.sqlite3", CLEANROOM_DATA_DIR=folder, CLEANROOM_AUDIT_ON_INGEST="false",
            CLEANROOM_GENERATION_DEVICE="cpu", CLEANROOM_TRAINING_DEVICE="cpu", HF_HUB_OFFLINE="1",
        )  # fmt: skip
        django_setup()
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 2)))
        jobs = build_world(args.size, args.jobs)
        figures = measure(jobs, args.rounds)

    ratio = figures["sign_ours_ms"] / figures["sign_bare_ms"]
    provenance_ms = figures["moderation_ms"] + figures["watermark_ms"] + figures["release_sign_ms"]
    print_table(
        ["figure", "value"],
        [
            ["output", f"{figures['image']} PNG, watermarked: {figures['watermarked']}"],
            ["sign_image (platform), ms", f"{figures['sign_ours_ms']:.2f}"],
            ["bare c2pa-python sign, same manifest, ms", f"{figures['sign_bare_ms']:.2f}"],
            ["release signing (+ Trusted read-back), ms", f"{figures['release_sign_ms']:.2f}"],
            ["moderation (NudeNet), ms", f"{figures['moderation_ms']:.1f}"],
            ["watermark (rivaGan embed + read-back), ms", f"{figures['watermark_ms']:.0f}"],
            ["moderation + watermark + signing, ms", f"{provenance_ms:.0f}"],
            ["share of total generation time (jobs' own stages)", f"{figures['share_of_generation']:.1%}"],
        ]
        + [[f"job {i} stage ms", str(stages)] for i, stages in enumerate(figures["job_stage_ms"])],
    )
    print(bench_line("provenance_sign_vs_bare_sdk", ratio, "ratio", "<=", 1.2))


if __name__ == "__main__":
    main()
