"""Executing a training run on a `gpu` worker: claimed once, every rule checked again before
the first step, the LoRA loop, then the weights and their signed lineage, or a failure with
its code."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import audit_append
from core.exceptions import ApplicationError
from core.heartbeat import heartbeat
from core.models import EventType
from core.storage import blob_open, blob_put_bytes
from provenance.models import SnapshotMember
from training.models import ModelArtifact, RunStatus, TrainingRun
from training.selectors import training_run_get
from training.services.requests import record_refusal, training_run_claim, training_run_transition
from training.services.rules import REFUSAL_CODES, check_trainable

logger = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.5  # how often a running loop writes progress (and notices a cancel)


def _progress_writer(run: TrainingRun) -> Callable[[int, float], None]:
    from training.loop import TrainingCancelled

    losses: list[float] = []
    last_write = [0.0]

    def on_step(step: int, loss: float) -> None:
        losses.append(round(loss, 6))
        now = time.monotonic()
        if step < run.steps and now - last_write[0] < PROGRESS_INTERVAL_S:
            return
        last_write[0] = now
        # Written only while the run is still running: a cancel in between is never overwritten,
        # and noticing it here is how the loop stops.
        written = TrainingRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            progress=step / run.steps, loss_curve=losses, updated_at=timezone.now()
        )
        if not written:
            raise TrainingCancelled(str(run.pk))

    return on_step


def _read_checked_image(sha256: str) -> bytes:
    """An image's bytes, refused if they no longer hash to the frozen sha256 (read once more
    at use, so nothing can change between the check and the step)."""
    try:
        with blob_open(sha256) as handle:
            data = handle.read()
    except OSError:
        raise ApplicationError(f"the image {sha256} is missing from blob storage", code="blob_missing", status=409) from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ApplicationError(f"the image {sha256} differs from the snapshot's frozen list", code="blob_mismatch", status=409)
    return data


def training_execute(*, run_id, task_id: str = "") -> TrainingRun:
    """Run a queued training: claim it, check every rule again before the first step, train,
    then store the LoRA weights and their signed lineage and mark the run succeeded.

    A rule that fails marks the run failed with the rule's code (TRAINING_REFUSED); an
    unexpected error marks it failed (`training_error`) and is raised again for the worker's
    log. Returns the run as it ended. The worker's heartbeat (core.heartbeat) runs from the
    claim to the end.
    """
    if training_run_claim(run_id=run_id, task_id=task_id) is None:
        return training_run_get(run_id=run_id)
    with heartbeat(TrainingRun, run_id, running=RunStatus.RUNNING, task_id=task_id):
        return _execute(training_run_get(run_id=run_id))


def _execute(run: TrainingRun) -> TrainingRun:
    from training.loop import Example, LoopConfig, TrainingCancelled, train_lora
    from training.pipelines import device_for

    snapshot, base_model = run.snapshot, run.base_model
    try:
        check_trainable(snapshot, base_model)
        members = SnapshotMember.objects.filter(snapshot=snapshot).order_by("index").values_list("asset_sha256", "asset__caption")
        examples = [Example(sha256=sha256, caption=caption or "") for sha256, caption in members]
        config = LoopConfig(steps=run.steps, seed=run.seed, **run.config)
        device = device_for(settings.CLEANROOM_TRAINING["DEVICE"])
        TrainingRun.objects.filter(pk=run.pk).update(device=device)
        result = train_lora(
            base_directory=base_model.directory,
            examples=examples,
            config=config,
            device=device,
            read_image=_read_checked_image,
            on_step=_progress_writer(run),
        )
        _finish(run, result)
    except TrainingCancelled:
        logger.info("training run %s was cancelled", run.pk)
    except SoftTimeLimitExceeded:
        _fail(run, "the training exceeded its time limit (CLEANROOM_TRAINING_SOFT_TIME_LIMIT)", "time_limit")
    except ApplicationError as refusal:
        if refusal.code in REFUSAL_CODES:
            record_refusal(refusal, snapshot_id=snapshot.pk, base_model_id=base_model.pk, actor=None, run=run)
        _fail(run, refusal.message, refusal.code)
    except Exception as exc:
        _fail(run, f"{type(exc).__name__}: {exc}", "training_error")
        raise
    return training_run_get(run_id=run.pk)


def _fail(run: TrainingRun, reason: str, code: str) -> None:
    try:
        training_run_transition(run_id=run.pk, to=RunStatus.FAILED, reason=reason, code=code)
    except ApplicationError:
        logger.info(
            "training run %s ended as %s before it could fail: %s", run.pk, training_run_get(run_id=run.pk).status, reason
        )


def _finish(run: TrainingRun, result) -> None:
    from training.loop import TrainingCancelled
    from training.services.lineage import model_lineage_sign

    lora_sha256 = blob_put_bytes(result.lora_weights)
    model_id = uuid.uuid4()
    recorded = {name: value for name, value in result.config.items() if name not in ("steps", "seed")}  # own fields
    TrainingRun.objects.filter(pk=run.pk).update(
        config={**run.config, **recorded},
        device=result.device,
        library_versions=result.library_versions,
        loss_curve=[round(value, 6) for value in result.loss_curve],
        progress=1.0,
        timings=result.timings,
    )
    run.refresh_from_db()
    # Signing happens before the transaction: it reads the snapshot's container and may take a
    # while; nothing is recorded unless the whole lineage was signed and stored.
    lineage = model_lineage_sign(model_id=model_id, run=run, lora_sha256=lora_sha256, lora_size=len(result.lora_weights))
    with transaction.atomic():
        if TrainingRun.objects.select_for_update().get(pk=run.pk).status != RunStatus.RUNNING:
            raise TrainingCancelled(str(run.pk))  # cancelled while the lineage was being signed
        run = training_run_transition(run_id=run.pk, to=RunStatus.SUCCEEDED, reason="trained")
        artifact = ModelArtifact.objects.create(
            id=model_id,
            training_run=run,
            snapshot_id=run.snapshot_id,
            base_model_id=run.base_model_id,
            sha256=lora_sha256,
            size=len(result.lora_weights),
            container_sha256=lineage.container_sha256,
            ingredient_archive_sha256=lineage.ingredient_archive_sha256,
        )
        audit_append(
            actor=None,
            event_type=EventType.MODEL_CREATED,
            subject=artifact,
            details={
                "training_run_id": str(run.pk),
                "sha256": lora_sha256,
                "container_sha256": lineage.container_sha256,
                "ingredient_archive_sha256": lineage.ingredient_archive_sha256,
                "snapshot_id": str(run.snapshot_id),
                "snapshot_container_sha256": lineage.snapshot_container_sha256,
                "merkle_root": run.snapshot.merkle_root,
                "base_model_id": str(run.base_model_id),
                "base_model_sha256": run.base_model.sha256,
            },
        )
