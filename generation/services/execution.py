"""Running a claimed job in a worker: inference → moderation → watermark → fingerprint → sign →
release; or withhold what moderation flags.

Nothing of an output is stored before moderation passed. A withheld output is recorded (its
size and the detector's verdict, never its pixels). A released output is stored once, as the
signed PNG blob, and committed in one transaction with its fingerprint, the job's final state
and the OUTPUT_RELEASED event; the fingerprint joins the search index after that commit.

Two halves, `job_infer` (the model's work) and `job_release` (everything after it), each run
under `guarded`, which turns any failure into the job's final state: a single job runs them one
after the other (`job_run`), a batch runs them on two threads (generation/services/pipeline.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from PIL import Image

from core.audit import audit_append
from core.exceptions import MISCONFIGURED, ApplicationError
from core.heartbeat import heartbeat
from core.models import EventType
from core.storage import blob_put_bytes
from generation.models import GenerationJob, JobStatus, Output, OutputFingerprint, WatermarkSerial
from generation.services.bindings import fingerprint_bytes, watermark_apply
from generation.services.manifest import OUTPUT_MIME_TYPE, output_sign
from generation.services.moderation import moderate
from generation.services.requests import generation_refusal_record, job_claim, job_fail, job_transition
from training.pipelines import device_for
from training.services import model_usable

logger = logging.getLogger(__name__)
T = TypeVar("T")


class JobStopped(Exception):
    """The job left `running` (cancelled) while a stage ran: stop, release nothing."""


class Stages:
    """Milliseconds per stage of one job, recorded on it (`stage_ms`)."""

    def __init__(self) -> None:
        self.ms: dict[str, int] = {}

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round((time.perf_counter() - started) * 1000)

    def run(self, name: str, step: Callable[[], T]) -> T:
        with self.timed(name):
            return step()


def job_run(*, job_id: str, task_id: str = "") -> str:
    """Run the job if this task may claim it; returns its final status, or `skipped`.

    Every failure (a refusal by the model checks, a crash in a stage, a soft time limit) marks
    the job failed with the error and its stage timings; the task itself then succeeds, so a
    broken job is never redelivered in a loop. A misconfigured backend (ImproperlyConfigured:
    the watermark's model files missing, say) is recorded as `misconfigured: <what is wrong>`,
    without a traceback: it is the operator's to fix, not a bug. The worker's heartbeat
    (core.heartbeat) runs from the claim to the end.
    """
    job = job_claim(job_id=job_id, task_id=task_id)
    if job is None:
        return "skipped"
    with heartbeat(GenerationJob, job.pk, running=JobStatus.RUNNING, task_id=task_id):
        stages = Stages()
        inferred = guarded(job, stages, lambda: job_infer(job, stages))
        if isinstance(inferred, Ended):
            return inferred.status
        released = guarded(job, stages, lambda: job_release(job, inferred, stages))
        return released.status if isinstance(released, Ended) else released


@dataclass(frozen=True)
class Ended:
    """A stage ended the job early (failed, or stopped by a cancel): its final status."""

    status: str


def guarded(
    job: GenerationJob, stages: Stages, work: Callable[[], T], *, reraise: tuple[type[BaseException], ...] = ()
) -> T | Ended:
    """`work()`, or the job ended as its failure says: the one place where a stage's exception
    becomes the job's final state. An exception of a `reraise` type (a batch's soft time limit)
    fails the job and is raised again."""
    try:
        return work()
    except JobStopped:
        return Ended(GenerationJob.objects.values_list("status", flat=True).get(pk=job.pk))
    except ApplicationError as exc:
        job_fail(job_id=job.pk, error=f"{exc.code}: {exc.message}", stage_ms=stages.ms)
    except ImproperlyConfigured as exc:
        logger.error("generation job %s failed: misconfigured: %s", job.pk, exc)
        job_fail(job_id=job.pk, error=f"{MISCONFIGURED}: {exc}", stage_ms=stages.ms)
    except Exception as exc:
        logger.exception("generation job %s failed", job.pk)
        job_fail(job_id=job.pk, error=f"{type(exc).__name__}: {exc}", stage_ms=stages.ms)
        if isinstance(exc, reraise):
            raise
    return Ended(JobStatus.FAILED)


def _check_running(job: GenerationJob) -> None:
    if GenerationJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists():
        return
    raise JobStopped()


def job_infer(job: GenerationJob, stages: Stages) -> Image.Image:
    """The claimed job's image: the model checked again, its pipeline loaded (once per process),
    inference run. Nothing is stored: the pixels go to `job_release` only."""
    # torch and diffusers load here, in the worker, on the first job.
    from generation.services.inference import generate, pipelines_for

    artifact = job.model
    # Checked again at run time: the snapshot may have been tainted since the job was queued.
    try:
        model_usable(artifact)
    except ApplicationError as refusal:
        generation_refusal_record(error=refusal, model_id=artifact.pk, kind=job.kind, job=job)
        raise
    device = device_for(settings.CLEANROOM_GENERATION["DEVICE"])
    GenerationJob.objects.filter(pk=job.pk).update(device=device)
    pipelines = stages.run("load", lambda: pipelines_for(artifact, device))
    image = stages.run("inference", lambda: generate(job, pipelines))
    _check_running(job)
    return image


def job_release(job: GenerationJob, image: Image.Image, stages: Stages) -> str:
    """The release stage of one job, single or in a batch: moderation → withhold, or watermark →
    fingerprint → sign → release. Returns the final status (`succeeded` or `withheld`).

    The one home of the rule that nothing of an output is stored before moderation passed: the
    output row, its watermark id and its blob are made only after the verdict.
    """
    artifact = job.model
    _check_running(job)  # cancelled while its image waited for the release thread (a batch)
    verdict = stages.run("moderation", lambda: moderate(image))
    if verdict["flagged"]:
        _withhold(job, image, verdict, stages.ms)
        return JobStatus.WITHHELD
    output, watermark_id = _output_for(job, image, verdict)
    watermarking = stages.run("watermark", lambda: watermark_apply(image, watermark_id))
    output.watermark_embedded, output.watermark_note = watermarking.embedded, watermarking.note
    fingerprint = stages.run("fingerprint", lambda: fingerprint_bytes(watermarking.image))
    _check_running(job)
    signed, label = stages.run(
        "sign", lambda: output_sign(png=_png(watermarking.image), job=job, output=output, artifact=artifact)
    )
    _release(job, output, signed, label, fingerprint, stages.ms)
    return JobStatus.SUCCEEDED


def _png(image: Image.Image) -> bytes:
    """The released file's pixels, losslessly. OpenCV's encoder at zlib level 1 with run-length
    matching: ~6× faster than Pillow's default (level 6) at 1024², and on photos and generated
    images no larger (bench/release.py)."""
    import cv2
    import numpy as np

    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    pixels = np.asarray(image)
    order = cv2.COLOR_RGBA2BGRA if image.mode == "RGBA" else cv2.COLOR_RGB2BGR
    flags = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(pixels, order), flags)
    if not ok:
        raise RuntimeError(f"the {image.width}×{image.height} output could not be encoded as PNG")
    return encoded.tobytes()


def _output_for(job: GenerationJob, image: Image.Image, verdict: dict) -> tuple[Output, int]:
    """The job's output row and its newly allocated watermark id (only outputs that passed
    moderation get one)."""
    watermark = WatermarkSerial.objects.create()
    output = Output.objects.create(job=job, watermark=watermark, width=image.width, height=image.height, moderation=verdict)
    return output, watermark.pk


def _withhold(job: GenerationJob, image: Image.Image, verdict: dict, stage_ms: dict) -> None:
    labels = sorted({entry["label"] for entry in verdict["labels"] if entry["score"] >= verdict["threshold"]})
    reason = f"moderation ({verdict['detector']}) flagged the output: score {verdict['score']:.2f} ≥ {verdict['threshold']:g}"
    if labels:
        reason += f" ({', '.join(labels)})"
    with transaction.atomic():
        _check_running_locked(job)
        output, _ = Output.objects.update_or_create(
            job=job, defaults={"width": image.width, "height": image.height, "moderation": verdict, "withheld_reason": reason}
        )
        job_transition(job_id=job.pk, to=JobStatus.WITHHELD, reason=reason, finished_at=timezone.now(), stage_ms=stage_ms)
        audit_append(
            actor=None,
            event_type=EventType.OUTPUT_WITHHELD,
            subject=output,
            details={"job_id": str(job.pk), "reason": reason, "moderation": verdict},
        )


def _check_running_locked(job: GenerationJob) -> None:
    if not GenerationJob.objects.select_for_update().filter(pk=job.pk, status=JobStatus.RUNNING).exists():
        raise JobStopped()


def _release(job: GenerationJob, output: Output, signed: bytes, label: str, fingerprint: bytes, stage_ms: dict) -> None:
    sha256 = blob_put_bytes(signed)
    with transaction.atomic():
        _check_running_locked(job)
        now = timezone.now()
        fields: dict[str, Any] = {
            "sha256": sha256,
            "size": len(signed),
            "mime_type": OUTPUT_MIME_TYPE,
            "released": True,
            "released_at": now,
            "manifest_label": label,
            "watermark_embedded": output.watermark_embedded,
            "watermark_note": output.watermark_note,
        }
        Output.objects.filter(pk=output.pk).update(**fields, updated_at=now)
        OutputFingerprint.objects.update_or_create(output=output, defaults={"fingerprint": fingerprint})
        job_transition(job_id=job.pk, to=JobStatus.SUCCEEDED, reason="output released", finished_at=now, stage_ms=stage_ms)
        audit_append(
            actor=None,
            event_type=EventType.OUTPUT_RELEASED,
            subject=output,
            details={
                "job_id": str(job.pk),
                "sha256": sha256,
                "manifest_label": label,
                "watermark_id": output.watermark_id if output.watermark_embedded else None,
                "watermark_note": output.watermark_note,
            },
        )
        transaction.on_commit(_registry_sync)


def _registry_sync() -> None:
    from generation.output_index import output_index_sync

    output_index_sync()
