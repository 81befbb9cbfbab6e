"""Generation jobs, their outputs, and the registry of output fingerprints.

A job is one request to one model; it ends `succeeded` (its output released: watermarked,
fingerprinted, signed, stored), `withheld` (moderation flagged the output: recorded, never
returned), `failed` or `cancelled`. Each output gets a small integer, its `watermark_id`, which
is what the invisible watermark carries (a UUID does not fit in a watermark's payload).
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import TimeStampedModel
from core.roles import Actor, Role, user_roles
from training.models import ModelArtifact

_QuerySet = TypeVar("_QuerySet", bound=models.QuerySet)

# Operators and compliance see every job; a product team sees the jobs it requested.
JOB_READERS_ALL: frozenset[str] = frozenset({Role.OPERATOR, Role.COMPLIANCE})


class JobKind(models.TextChoices):
    TEXT_TO_IMAGE = "text_to_image"
    IMAGE_TO_IMAGE = "image_to_image"
    INPAINT = "inpaint"
    UPSCALE = "upscale"


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    WITHHELD = "withheld"  # moderation flagged the output; it is recorded and never returned
    FAILED = "failed"
    CANCELLED = "cancelled"


JOB_TRANSITIONS: dict[str, set[str]] = {
    JobStatus.QUEUED: {JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED},
    JobStatus.RUNNING: {JobStatus.SUCCEEDED, JobStatus.WITHHELD, JobStatus.FAILED, JobStatus.CANCELLED},
    JobStatus.SUCCEEDED: set(),
    JobStatus.WITHHELD: set(),
    JobStatus.FAILED: set(),
    JobStatus.CANCELLED: set(),
}
JOB_FINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.WITHHELD, JobStatus.FAILED, JobStatus.CANCELLED})


def _requested_visible_to(queryset: _QuerySet, user: Actor) -> _QuerySet:
    # One rule for jobs and batches alike: operators and compliance see all, a product team
    # what it requested, anyone else nothing.
    roles = user_roles(user)
    if roles & JOB_READERS_ALL:
        return queryset.all()
    if Role.PRODUCT in roles:
        return queryset.filter(requester=user)
    return queryset.none()


class GenerationJobQuerySet(models.QuerySet):
    def visible_to(self, user: Actor) -> GenerationJobQuerySet:
        return _requested_visible_to(self, user)


class GenerationBatchQuerySet(models.QuerySet):
    def visible_to(self, user: Actor) -> GenerationBatchQuerySet:
        return _requested_visible_to(self, user)


class GenerationBatch(TimeStampedModel):
    """One request with many prompts: its jobs (`jobs`, ordered by `batch_index`) are run in
    order by one `gpu` task (`generation.run_batch`, whose id is `task_id`), generation of one
    overlapping the release of the one before. Each job keeps its own state, output and audit
    trail; the batch only groups them. `created_at` is when it was queued.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # None: the platform's operator at the command line.
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    model = models.ForeignKey(ModelArtifact, on_delete=models.PROTECT, related_name="generation_batches")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    task_id = models.CharField(max_length=64, blank=True)

    objects = GenerationBatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"generation batch {self.id}"


class GenerationJob(TimeStampedModel):
    """One generation request. `created_at` is when it was queued.

    `parameters` holds what the pipeline was asked for: prompt, negative_prompt, steps,
    guidance, strength, width, height, scale (each where the kind uses it), after defaults were
    applied, so a job can be re-run exactly with its `seed`. `stage_ms` records milliseconds
    per stage: load, inference, moderation, watermark, fingerprint, sign (and, in a batch,
    release_wait: how long the finished image waited for the release thread). `warnings` lists what
    was accepted but unwise (a size far above the model's native one), as sentences.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # None: the platform's operator at the command line.
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    model = models.ForeignKey(ModelArtifact, on_delete=models.PROTECT, related_name="generation_jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    parameters = models.JSONField(default=dict)
    warnings = models.JSONField(default=list, blank=True)
    input_sha256 = models.CharField(max_length=64, blank=True)  # the input image's blob (not text-to-image)
    mask_sha256 = models.CharField(max_length=64, blank=True)  # the inpainting mask's blob
    seed = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    task_id = models.CharField(max_length=64, blank=True)
    device = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Stamped by the claim and kept fresh by the working worker (core.heartbeat): stale while
    # `running` means the worker died, and the reconciler takes the row at once.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    stage_ms = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    # A job of a batch request: its place in the batch (0-based), which is the order it runs in.
    batch = models.ForeignKey(GenerationBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    batch_index = models.PositiveIntegerField(null=True, blank=True)

    objects = GenerationJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"generation job {self.id} ({self.status})"


class WatermarkSerial(models.Model):
    """Allocates watermark ids: one row per output, numbered by the database.

    A separate table because a model has one auto-numbered field (the Output's is its UUID) and
    the embedded default, SQLite, has no sequences; `Output.watermark_id` is this row's id.
    """

    id = models.BigAutoField(primary_key=True)
    allocated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"watermark {self.pk}"


class Output(TimeStampedModel):
    """The image a job made. Released: the signed file is the blob `sha256`. Withheld: nothing
    of its pixels is stored or returned; `moderation` says why.

    `watermark_embedded` is False when the watermark could not be carried (the image is too
    small or too smooth for it, or the ids ran past the payload); the fingerprint then is the
    only soft binding, and the manifest names only that one.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.OneToOneField(GenerationJob, on_delete=models.PROTECT, related_name="output")
    # None for a withheld output: only what passed moderation is ever marked.
    watermark = models.OneToOneField(
        WatermarkSerial, null=True, blank=True, on_delete=models.PROTECT, related_name="output", db_column="watermark_id"
    )
    watermark_embedded = models.BooleanField(default=False)
    watermark_note = models.TextField(blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    mime_type = models.CharField(max_length=32, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    moderation = models.JSONField(default=dict)
    released = models.BooleanField(default=False)
    released_at = models.DateTimeField(null=True, blank=True)
    withheld_reason = models.TextField(blank=True)
    manifest_label = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"output {self.id} ({'released' if self.released else 'not released'})"


class OutputFingerprint(models.Model):
    """The perceptual fingerprint (`Fingerprint.to_bytes()`) of an output's released pixels, the
    watermarked image before its manifest was added: the output registry's entry."""

    output = models.OneToOneField(Output, on_delete=models.PROTECT, primary_key=True, related_name="fingerprint")
    fingerprint = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "output"]

    def __str__(self) -> str:
        return f"fingerprint of output {self.output_id}"


class VerificationStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


VERIFICATION_TRANSITIONS: dict[str, set[str]] = {
    VerificationStatus.QUEUED: {VerificationStatus.RUNNING, VerificationStatus.DONE, VerificationStatus.FAILED},
    VerificationStatus.RUNNING: {VerificationStatus.DONE, VerificationStatus.FAILED},
    VerificationStatus.DONE: set(),
    VerificationStatus.FAILED: set(),
}


class Verification(TimeStampedModel):
    """One `verify` request through the API. An image whose embedded manifest settles it is
    answered at once (`done`); one that needs its soft bindings read (a stripped copy, or a
    stranger) is queued for a CPU worker, because the web process never loads the detectors.

    `sha256` is the digest of the uploaded bytes, `verdict` is what `verify FILE` prints. A
    queued request's bytes wait in the verify spool under its id until the verdict is stored
    (generation/services/verification_spool.py); they are never a blob.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sha256 = models.CharField(max_length=64)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=VerificationStatus.choices, default=VerificationStatus.QUEUED)
    verdict = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    # Stamped by the claim and kept fresh by the working worker (core.heartbeat): stale while
    # `running` means the worker died, and the reconciler takes the row at once.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The signed verification report (generation/services/verification_results.py): asked for
    # at `report_requested_at`, signed by a worker into the blob `report_sha256`, or refused
    # with `report_error`. Never the image: only its digest is in it.
    report_requested_at = models.DateTimeField(null=True, blank=True)
    report_sha256 = models.CharField(max_length=64, blank=True)
    report_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"verification {self.id} ({self.status})"
