#!/usr/bin/env python
"""Generation throughput of one worker, provenance on against provenance off, in the same run.

(Named generation_throughput.py: a bench/generation.py would shadow the `generation` package
for every benchmark, see tests/test_architecture.py.)

A fresh embedded instance (SQLite, a temporary data folder) gets the demo world (signing
identity, approved tiny base model and images), an approved snapshot and a LoRA trained on it,
through the real services. Then, for N prompts:

- provenance off: inference only, a bench-only loop calling the worker's own `generate` with
  the same pipelines, parameters and seeds;
- provenance on: one batch request (`generation_batch_request`) run by the worker's batch
  service (`batch_run`): inference of job k+1 overlapping the release stage of job k
  (moderation → watermark → fingerprint → C2PA signing → release) on the release thread.

Images per hour of each, their ratio (target: on ≥ 95% of off), and from the jobs' own stage
timings: inference, release stage and how long a finished image waited for the release thread.
The off loop runs before and after the on run; its mean is the baseline (a busy machine hurts
both alike).

- `--device cpu` (default, `--arch tiny`): the tiny model through the real loading code
  (base model + LoRA, digests checked), at `--size` (256² by default: the watermark's smallest
  working size, so its work is the real one) and 4 steps. Not 512²: the tiny VAE downsamples
  only twice, so 512² means 256² latents and a 65,536-token attention in the VAE's middle block:
  one 512² image took 21 minutes of inference on this 2-core machine (2026-12-06), against
  seconds at 256².
- `--device cuda --arch sd15,sdxl`: full-size Stable Diffusion 1.5 (512²) and SDXL (1024²)
  architectures with random weights (bench/sd_architectures.py: published hyper-parameters,
  nothing downloaded), 25 steps in fp16 (`--dtype bf16`), served by the same worker code (the
  pipeline stands in for the model's in the worker's pipeline cache); also the release share of
  generation time (target ≤ 5%), peak GPU memory, and a LoRA training step at 512² on the
  SD 1.5 UNet (`--no-lora` skips it).
- `--device cpu --arch sd15-tiny,sdxl-tiny`: the same builders and code path with the sizes
  shrunk, a check that runs anywhere.

Run: `.venv/bin/python bench/generation_throughput.py [--jobs N] [--size PX] [--steps S]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import bench_line, demo_trained_model, django_setup, print_table

PROMPTS = ("a lighthouse at dusk", "a red apple on a table", "a kite over the sea", "a city street in the rain")
RELEASE_STAGES = ("moderation", "watermark", "fingerprint", "sign")


def build_world():
    """The demo world, an approved snapshot and a LoRA trained on it: (model artifact, product user)."""
    return demo_trained_model(steps=2)


def serve_pipeline(artifact, device: str, pipeline) -> None:
    """Make the worker serve `pipeline` for `artifact` (bench only: a full-size architecture with
    random weights stands in for the model's, so the worker's own code runs it)."""
    from generation.services import inference

    inference._pipelines[(str(artifact.pk), artifact.sha256, device)] = {"text": pipeline}


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def provenance_off(artifact, device: str, parameters: dict, count: int) -> float:
    """Seconds for `count` images, inference only, through the worker's `generate`."""
    from generation.models import GenerationJob, JobKind
    from generation.services.inference import generate, pipelines_for

    pipelines = pipelines_for(artifact, device)
    synchronize(device)
    started = time.perf_counter()
    for k in range(count):
        job = GenerationJob(
            model=artifact, kind=JobKind.TEXT_TO_IMAGE, seed=k, parameters={**parameters, "prompt": PROMPTS[k % len(PROMPTS)]}
        )
        generate(job, pipelines)
    synchronize(device)
    return time.perf_counter() - started


def provenance_on(artifact, product, parameters: dict, count: int) -> tuple[float, list]:
    """Seconds for a batch of `count` jobs through the batch service, and the jobs."""
    from generation.models import GenerationJob, JobStatus
    from generation.services.batches import generation_batch_request
    from generation.services.pipeline import batch_run

    shared = {key: value for key, value in parameters.items() if key not in ("prompt", "negative_prompt")}
    prompts = [PROMPTS[k % len(PROMPTS)] for k in range(count)]
    batch = generation_batch_request(model_id=artifact.pk, prompts=prompts, parameters=shared, seed=0, actor=product)
    started = time.perf_counter()
    batch_run(batch_id=str(batch.pk), task_id=batch.task_id)
    elapsed = time.perf_counter() - started
    jobs = list(GenerationJob.objects.filter(batch=batch).select_related("output").order_by("batch_index"))
    failed = [(job.status, job.error[:300]) for job in jobs if job.status != JobStatus.SUCCEEDED]
    assert not failed, failed
    return elapsed, jobs


def warm_up(artifact, product, parameters: dict) -> None:
    """One job end to end: the pipeline, the detector and the watermark's model loaded once."""
    provenance_on(artifact, product, parameters, 1)


def median_stage(jobs: list, *names: str) -> float:
    return statistics.median(sum(job.stage_ms.get(name, 0) for name in names) for job in jobs)


def compare(artifact, product, device: str, parameters: dict, count: int) -> dict:
    warm_up(artifact, product, parameters)
    off_before = provenance_off(artifact, device, parameters, count)
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()
    on_seconds, jobs = provenance_on(artifact, product, parameters, count)
    peak_gib = 0.0
    if device.startswith("cuda"):
        import torch

        peak_gib = torch.cuda.max_memory_allocated() / 2**30
    off_after = provenance_off(artifact, device, parameters, count)
    off_seconds = (off_before + off_after) / 2
    inference_ms = median_stage(jobs, "inference")
    release_ms = median_stage(jobs, *RELEASE_STAGES)
    return {
        "size": f"{parameters['width']}x{parameters['height']}, {parameters['steps']} steps",
        "on_per_hour": count / on_seconds * 3600,
        "off_per_hour": count / off_seconds * 3600,
        "off_runs_s": (off_before, off_after),
        "on_s": on_seconds,
        "inference_ms": inference_ms,
        "release_ms": release_ms,
        "release_stage_ms": {name: median_stage(jobs, name) for name in RELEASE_STAGES},
        "release_wait_ms": median_stage(jobs, "release_wait"),
        "release_share": release_ms / inference_ms if inference_ms else float("inf"),
        "watermarked": sum(job.output.watermark_embedded for job in jobs),
        "count": count,
        "peak_gib": peak_gib,
    }


def report(label: str, figures: dict, suffix: str, share_name: str | None) -> None:
    print_table(
        ["figure", label],
        [
            ["output", figures["size"]],
            ["jobs per run", figures["count"]],
            ["provenance off: images/hour (mean of 2 runs)", f"{figures['off_per_hour']:.0f}"],
            ["provenance off: run seconds", ", ".join(f"{s:.1f}" for s in figures["off_runs_s"])],
            ["provenance on (batch pipeline): images/hour", f"{figures['on_per_hour']:.0f}"],
            ["provenance on: run seconds", f"{figures['on_s']:.1f}"],
            ["generation (inference) s/image, median", f"{figures['inference_ms'] / 1000:.3f}"],
            ["release stage ms/image, median", f"{figures['release_ms']:.0f}"],
            ["  " + ", ".join(RELEASE_STAGES), ", ".join(f"{v:.0f}" for v in figures["release_stage_ms"].values())],
            ["image waited for the release thread, ms, median", f"{figures['release_wait_ms']:.0f}"],
            ["release share of generation time", f"{figures['release_share']:.1%}"],
            ["outputs that carry the watermark", f"{figures['watermarked']} of {figures['count']}"],
            ["peak GPU memory (batch run), GiB", f"{figures['peak_gib']:.2f}"],
        ],
    )
    ratio = figures["on_per_hour"] / figures["off_per_hour"]
    print(bench_line(f"generation_images_per_hour_provenance_on{suffix}", figures["on_per_hour"], "images/h", ">=", 10000))
    print(bench_line(f"generation_images_per_hour_provenance_off{suffix}", figures["off_per_hour"], "images/h", ">=", 10000))
    print(bench_line(f"generation_provenance_on_vs_off{suffix}", ratio, "ratio", ">=", 0.95))
    if share_name:
        print(bench_line(share_name, figures["release_share"] * 100, "%", "<=", 5))
    if figures["peak_gib"]:
        print(bench_line(f"generation_peak_gpu_memory{suffix}", figures["peak_gib"], "GiB", "<=", 78))


def run_architectures(args, artifact, product, dtype) -> None:
    from sd_architectures import ARCHITECTURES, build_pipeline, lora_train_steps

    device = args.device
    for name in args.arch.split(","):
        started = time.perf_counter()
        pipeline = build_pipeline(name, device=device, dtype=dtype)
        print(f"built {name} on {device} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        serve_pipeline(artifact, device, pipeline)
        side = ARCHITECTURES[name]["resolution"]
        parameters = {"negative_prompt": "", "steps": args.steps, "guidance": 7.5, "width": side, "height": side}
        figures = compare(artifact, product, device, parameters, args.jobs)
        suffix = "_" + name.replace("-", "_")
        share = f"generation_release_share_gpu{suffix}" if device.startswith("cuda") else f"generation_release_share_cpu{suffix}"
        report(f"{name} ({device}, {args.dtype if device.startswith('cuda') else 'fp32'})", figures, suffix, share)
        del pipeline
        serve_pipeline(artifact, device, None)
        if device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
    if args.lora:
        lora_arch = "sd15" if device.startswith("cuda") else "sd15-tiny"
        lora = lora_train_steps(lora_arch, device=device, dtype=dtype, steps=args.lora_steps)
        side = ARCHITECTURES[lora_arch]["resolution"]
        print_table(
            ["LoRA training step", f"{lora_arch} UNet, {side}², rank 4"],
            [["s/step, median", f"{lora['s_per_step']:.3f}"], ["peak GPU memory, GiB", f"{lora['peak_gib']:.2f}"]],
        )
        suffix = "_" + lora_arch.replace("-", "_")
        print(bench_line(f"lora_train_step_seconds{suffix}_{side}", lora["s_per_step"], "s/step", "<=", 1))
        if lora["peak_gib"]:
            print(bench_line(f"lora_train_peak_gpu_memory{suffix}_{side}", lora["peak_gib"], "GiB", "<=", 78))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument(
        "--arch", default=None, help="tiny (the CPU default), or sd15,sdxl (the CUDA default), or sd15-tiny,sdxl-tiny"
    )
    parser.add_argument("--jobs", type=int, default=None, help="prompts per run (default 3 on the CPU, 16 on CUDA)")
    parser.add_argument("--size", type=int, default=256, help="tiny model: output side in pixels")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default 4 on the CPU, 25 on CUDA)")
    parser.add_argument("--dtype", choices=("fp16", "bf16"), default="fp16", help="CUDA precision")
    parser.add_argument("--no-lora", dest="lora", action="store_false", help="skip the LoRA training step")
    parser.add_argument("--lora-steps", type=int, default=5)
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    args.arch = args.arch or ("sd15,sdxl" if cuda else "tiny")
    args.jobs = args.jobs or (16 if cuda else 3)
    args.steps = args.steps or (25 if cuda else 4)

    with tempfile.TemporaryDirectory(prefix="cleanroom-bench-generation-") as folder:
        os.environ.update(
            DATABASE_URL=f"sqlite:///{folder}/db.sqlite3", CLEANROOM_DATA_DIR=folder, CLEANROOM_AUDIT_ON_INGEST="false",
            CLEANROOM_GENERATION_DEVICE=args.device, CLEANROOM_TRAINING_DEVICE="cpu", HF_HUB_OFFLINE="1",
        )  # fmt: skip
        django_setup()
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 2)))
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[args.dtype] if cuda else torch.float32
        artifact, product = build_world()
        if args.arch == "tiny":
            parameters = {"negative_prompt": "", "steps": args.steps, "guidance": 7.5, "width": args.size, "height": args.size}
            figures = compare(artifact, product, args.device, parameters, args.jobs)
            report(f"tiny model ({args.device})", figures, "", None)
        else:
            run_architectures(args, artifact, product, dtype)


if __name__ == "__main__":
    main()
