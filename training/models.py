"""Base models (registered weights, approved by four eyes), training runs, and the model
artifacts they produce, each bound by digest to its snapshot and base model."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import AppendOnlyModel, TimeStampedModel
from core.roles import Actor, Role, user_roles
from provenance.models import Snapshot

# Who sees what (reads; the services check writes). Reviewers see base models (they approve
# them); product teams see models (they generate with them), not the runs behind them.
BASE_MODEL_READERS: tuple[str, ...] = (Role.ML_ENGINEER, Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE)
RUN_READERS: tuple[str, ...] = (Role.ML_ENGINEER, Role.OPERATOR, Role.COMPLIANCE)
MODEL_READERS: tuple[str, ...] = (Role.ML_ENGINEER, Role.OPERATOR, Role.COMPLIANCE, Role.PRODUCT)


class _VisibleQuerySet(models.QuerySet):
    readers: tuple[str, ...] = ()

    def visible_to(self, user: Actor) -> models.QuerySet:
        return self.all() if user_roles(user) & set(self.readers) else self.none()


class BaseModelQuerySet(_VisibleQuerySet):
    readers = BASE_MODEL_READERS


class TrainingRunQuerySet(_VisibleQuerySet):
    readers = RUN_READERS


class ModelArtifactQuerySet(_VisibleQuerySet):
    readers = MODEL_READERS


# -- base models --------------------------------------------------------------------------------
class BaseModelStatus(models.TextChoices):
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"  # approved once, withdrawn since (e.g. its licence turned out wrong)


BASE_MODEL_TRANSITIONS: dict[str, set[str]] = {
    BaseModelStatus.IN_REVIEW: {BaseModelStatus.APPROVED, BaseModelStatus.REJECTED},
    BaseModelStatus.APPROVED: {BaseModelStatus.REVOKED},
    BaseModelStatus.REJECTED: set(),
    BaseModelStatus.REVOKED: set(),
}
BASE_MODEL_REQUIRED_APPROVALS = 2


class BaseModel(TimeStampedModel):
    """Base weights registered from a local `save_pretrained` directory (never a hub download).

    `files` lists every file under `directory` as `{path, sha256, size}` (POSIX paths relative
    to the directory, sorted); `sha256` is the digest of that list in `sha256sum` format, so
    `find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum` in the directory (paths
    without the leading `./`) reproduces it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    licence = models.CharField(max_length=100)
    declared_provenance = models.TextField(blank=True)
    directory = models.CharField(max_length=1024)
    pipeline_class = models.CharField(max_length=100)
    files = models.JSONField()
    sha256 = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=BaseModelStatus.choices, default=BaseModelStatus.IN_REVIEW)
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # What the pipeline makes when asked for no size (`training.weights.native_size`), read from
    # its configs at registration: the configs are among the hashed files, so the digest pins it
    # and the web process needs neither torch nor the directory to know it. Null: they do not say.
    native_width = models.PositiveIntegerField(null=True, blank=True)
    native_height = models.PositiveIntegerField(null=True, blank=True)

    objects = BaseModelQuerySet.as_manager()

    def __str__(self) -> str:
        return f"base model {self.name} ({self.status})"

    @property
    def native_size(self) -> tuple[int, int] | None:
        if self.native_width is None or self.native_height is None:
            return None
        return self.native_width, self.native_height


class BaseModelReview(AppendOnlyModel):
    """A reviewer's decision on a base model: never edited; a change of mind is a new row."""

    base_model = models.ForeignKey(BaseModel, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=16)  # approve | reject (provenance's Decision values)
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


# -- training runs ------------------------------------------------------------------------------
class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


RUN_TRANSITIONS: dict[str, set[str]] = {
    RunStatus.QUEUED: {RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELLED},
    RunStatus.RUNNING: {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED},
    RunStatus.SUCCEEDED: set(),
    RunStatus.FAILED: set(),
    RunStatus.CANCELLED: set(),
}
RUN_FINAL = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}


class TrainingRun(TimeStampedModel):
    """One LoRA fine-tuning of a base model on an approved snapshot.

    `config` holds every hyper-parameter the loop used (rank, learning rate, resolution, batch
    size, …), `library_versions` the versions of torch, diffusers, peft, accelerate and
    transformers, `loss_curve` one loss per step, `timings` seconds per phase.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="training_runs")
    base_model = models.ForeignKey(BaseModel, on_delete=models.PROTECT, related_name="training_runs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    config = models.JSONField(default=dict)
    seed = models.BigIntegerField()
    steps = models.PositiveIntegerField()
    device = models.CharField(max_length=32, blank=True)
    library_versions = models.JSONField(default=dict)
    loss_curve = models.JSONField(default=list)
    progress = models.FloatField(default=0.0)  # 0..1, steps done / steps
    task_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Stamped by the claim and kept fresh by the working worker (core.heartbeat): stale while
    # `running` means the worker died, and the reconciler takes the row at once.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    timings = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)

    objects = TrainingRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"training run {self.id} ({self.status})"


class ModelArtifact(TimeStampedModel):
    """The LoRA weights a run produced and their signed provenance, all stored as blobs.

    `sha256` is the digest of the LoRA safetensors file (the blob's name). `container_sha256`
    names the signed ZIP (model.json) whose C2PA manifest has the snapshot's signed container and
    the base model as `inputTo` ingredients; `ingredient_archive_sha256` names that container
    as a reusable `inputTo` ingredient, which every generated image embeds.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    training_run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="artifact")
    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="model_artifacts")
    base_model = models.ForeignKey(BaseModel, on_delete=models.PROTECT, related_name="model_artifacts")
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField()
    container_sha256 = models.CharField(max_length=64)
    ingredient_archive_sha256 = models.CharField(max_length=64)

    objects = ModelArtifactQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"model {self.id} (lora {self.sha256[:12]})"
