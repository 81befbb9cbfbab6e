"""The demo's chain of provenance, built by the demo loader after the images (demo.load), through
the services alone: the ML engineer freezes the demo dataset into a snapshot, both demo
reviewers approve it, a tiny LoRA is trained on it and the product user generates one image with
it. The signed image is copied to `<CLEANROOM_DATA_DIR>/demo/demo-output.png`, and a copy with
its Content Credentials stripped (re-encoded by Pillow) to `demo-output-stripped.png`, for the
verify page.

Training and generation run in this process with the very services the `gpu` worker calls
(`training_execute`, `job_run`), on the CPU unless a GPU is configured: `make run` loads the demo
before it starts the worker, and the tiny model trains and generates in seconds. The messages
the requests sent to the broker are left for the worker, which finds the run and the job
already done and skips them (each is claimed once).

Each step is taken only when its result is missing, so loading again changes nothing, and
nothing breaks after the demo contributor revoked their consent: the snapshot is then tainted,
no new one is frozen, and the model and output already made stay (a tainted model may not
generate again; the files are rewritten from the output already made).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from core.exceptions import ApplicationError
from core.storage import blob_open
from demo.pictures import PICTURES, render
from generation.models import Output
from generation.services.execution import job_run
from generation.services.requests import generation_request
from provenance.models import Dataset, Snapshot, SnapshotStatus
from provenance.selectors import snapshot_approvals
from provenance.services.snapshots import snapshot_approve, snapshot_create
from training.models import ModelArtifact, RunStatus, TrainingRun
from training.selectors import model_refusal
from training.services import training_execute, training_request

TRAINING_STEPS = 2
TRAINING_SEED = 7
# The output is an inpainting of one of the demo's own (consented) pictures: a small corner is
# repainted, so the image keeps the picture's texture and can carry the invisible watermark (the
# tiny model's text-to-image noise cannot), at 256 px, the smallest it can mark.
OUTPUT_SIZE = 256
SOURCE_PICTURE = "mountains"
REPAINTED_CORNER = (0, 224, 32, 256)
GENERATION = {"prompt": "a small red kite over the mountains", "steps": 2, "guidance": 1.0}
GENERATION_SEED = 11
OUTPUT_NAME = "demo-output.png"
STRIPPED_NAME = "demo-output-stripped.png"


def demo_chain(*, dataset: Dataset, base_model_id: str, users: dict, demo_dir: Path, reviewers: tuple[str, ...]) -> dict:
    snapshot = _snapshot(dataset, users["demo-engineer"])
    if snapshot is None:
        return {"snapshot": None, "model": None, "output": None}
    for reviewer in reviewers:
        snapshot = _approve(snapshot, users[reviewer])
    model = _model(snapshot, base_model_id, users["demo-engineer"])
    output = _output(model, users["demo-product"]) if model is not None else None
    files = _write_output_files(output, demo_dir) if output is not None else {}
    return {
        "snapshot": {
            "snapshot_id": str(snapshot.pk),
            "status": snapshot.status,
            "merkle_root": snapshot.merkle_root,
            "asset_count": snapshot.asset_count,
            "approvals": snapshot_approvals(snapshot),
        },
        "model": {"model_id": str(model.pk), "sha256": model.sha256} if model is not None else None,
        "output": {"output_id": str(output.pk), "sha256": output.sha256, **files} if output is not None else None,
    }


def _snapshot(dataset: Dataset, engineer) -> Snapshot | None:
    """The demo's one snapshot, frozen once: later loads keep it, even tainted."""
    existing = Snapshot.objects.filter(dataset=dataset).order_by("created_at", "id").first()
    if existing is not None:
        return existing
    try:
        return snapshot_create(dataset_slug=dataset.slug, actor=engineer)
    except ApplicationError as error:
        if error.code != "empty_snapshot":  # no image cleared yet: nothing to freeze
            raise
        return None


def _approve(snapshot: Snapshot, reviewer) -> Snapshot:
    if snapshot.status != SnapshotStatus.IN_REVIEW or reviewer.get_username() in snapshot_approvals(snapshot):
        return snapshot
    return snapshot_approve(snapshot_id=str(snapshot.pk), reviewer=reviewer)


def _model(snapshot: Snapshot, base_model_id: str, engineer) -> ModelArtifact | None:
    """The LoRA trained on the snapshot, trained here the first time (or finished here, when an
    earlier load stopped after requesting it)."""
    existing = ModelArtifact.objects.filter(snapshot=snapshot).order_by("created_at", "id").first()
    if existing is not None:
        return existing
    if snapshot.status != SnapshotStatus.APPROVED:
        return None
    run = TrainingRun.objects.filter(snapshot=snapshot, status=RunStatus.QUEUED).order_by("created_at", "id").first()
    if run is None:
        run = training_request(
            snapshot_id=snapshot.pk, base_model_id=base_model_id, steps=TRAINING_STEPS, seed=TRAINING_SEED, actor=engineer
        )
    finished = training_execute(run_id=run.pk, task_id=run.task_id)
    if finished.status != RunStatus.SUCCEEDED:
        raise ApplicationError(f"the demo's training failed: {finished.error}", code="demo_training_failed")
    return ModelArtifact.objects.get(training_run=finished)


def _output(model: ModelArtifact, product) -> Output | None:
    """The model's first released image, generated here the first time."""
    existing = Output.objects.filter(job__model=model, released=True).order_by("created_at", "id").first()
    if existing is not None:
        return existing
    if model_refusal(model) is not None:  # e.g. its snapshot was tainted before anything was generated
        return None
    image, mask = _inpainting_inputs()
    job = generation_request(
        model_id=model.pk, kind="inpaint", parameters=GENERATION, seed=GENERATION_SEED, image=image, mask=mask, actor=product
    )
    job_run(job_id=str(job.pk), task_id=job.task_id)
    return Output.objects.filter(job=job, released=True).first()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _inpainting_inputs() -> tuple[bytes, bytes]:
    """The source picture at the output's size, and a mask that repaints its corner (white)."""
    index, picture = next((i, p) for i, p in enumerate(PICTURES, start=1) if p.name == SOURCE_PICTURE)
    data, _ = render(picture, index)
    with Image.open(io.BytesIO(data)) as source:
        image = source.convert("RGB").resize((OUTPUT_SIZE, OUTPUT_SIZE), Image.Resampling.LANCZOS)
    mask = Image.new("L", (OUTPUT_SIZE, OUTPUT_SIZE), 0)
    mask.paste(255, REPAINTED_CORNER)
    return _png(image), _png(mask)


def _write_output_files(output: Output, demo_dir: Path) -> dict[str, Any]:
    with blob_open(output.sha256) as handle:
        signed = handle.read()
    with Image.open(io.BytesIO(signed)) as image:
        stripped = _png(image.convert("RGB"))  # a plain re-encode: the manifest is gone
    paths = {"output_path": demo_dir / OUTPUT_NAME, "stripped_path": demo_dir / STRIPPED_NAME}
    for path, data in ((paths["output_path"], signed), (paths["stripped_path"], stripped)):
        if not (path.is_file() and path.read_bytes() == data):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return {name: str(path) for name, path in paths.items()}
