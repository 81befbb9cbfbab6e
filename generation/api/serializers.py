"""Request shapes (types checked here, rules decided by the services) and response shapes.

A job and an output are rendered by one serializer each, for the API and the `generate`
command's JSON alike.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import OptionalTextField
from generation.models import JOB_FINAL, JobKind, JobStatus, Output

# The parameters a request may carry; which of them a kind takes is the service's rule.
PARAMETER_FIELDS = ("prompt", "negative_prompt", "steps", "guidance", "strength", "width", "height", "scale")


class JobFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False, help_text="only jobs in this status")


class JobCreateSerializer(serializers.Serializer):
    model = serializers.UUIDField(help_text="the model (ModelArtifact) id")
    kind = serializers.CharField(max_length=32, help_text=f"one of {', '.join(JobKind.values)}")
    prompt = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    negative_prompt = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    steps = serializers.IntegerField(required=False, help_text="denoising steps (default: the server's)")
    guidance = serializers.FloatField(required=False, help_text="classifier-free guidance scale (default 7.5)")
    strength = serializers.FloatField(
        required=False, help_text="how much of the input to change, (0, 1]: image_to_image, inpaint, upscale"
    )
    width = serializers.IntegerField(
        required=False,
        help_text="text_to_image: a multiple of 8 (default: the model's native size)",
    )
    height = serializers.IntegerField(
        required=False,
        help_text="text_to_image: a multiple of 8 (default: the model's native size)",
    )
    scale = serializers.IntegerField(required=False, help_text="upscale: 2, 3 or 4 (default 2)")
    seed = serializers.IntegerField(required=False, min_value=0, help_text="default: a random seed, recorded on the job")
    image = serializers.FileField(required=False, help_text="the input image: image_to_image, inpaint, upscale")
    mask = serializers.FileField(required=False, help_text="inpaint: white where the image is to be repainted")

    def parameters(self) -> dict[str, Any]:
        return {name: self.validated_data[name] for name in PARAMETER_FIELDS if name in self.validated_data}


class ModerationSerializer(serializers.Serializer):
    detector = serializers.CharField()
    version = serializers.CharField()
    flagged = serializers.BooleanField()
    score = serializers.FloatField()
    threshold = serializers.FloatField()
    labels = serializers.ListField(child=serializers.DictField())


class OutputSerializer(serializers.Serializer):
    """An output as the API and the `generate` command show it."""

    output_id = serializers.UUIDField(source="pk")
    released = serializers.BooleanField()
    withheld_reason = OptionalTextField()
    sha256 = OptionalTextField(help_text="of the signed PNG (released outputs)")
    mime_type = OptionalTextField()
    size = serializers.IntegerField(allow_null=True)
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    watermark_id = serializers.SerializerMethodField(help_text="the id its invisible watermark carries, if embedded")
    watermark_note = OptionalTextField()
    manifest_label = OptionalTextField()
    moderation = serializers.SerializerMethodField()

    def get_watermark_id(self, output: Output) -> int | None:
        return output.watermark_id if output.watermark_embedded else None

    @extend_schema_field(ModerationSerializer)
    def get_moderation(self, output: Output) -> dict:
        return output.moderation


class JobSerializer(serializers.Serializer):
    """A job as the API and the `generate` command show it (`generate --show`, `--cancel`, and
    the `job` of a failed run), so the two cannot drift."""

    job_id = serializers.UUIDField(source="pk")
    status = serializers.ChoiceField(choices=JobStatus.choices)
    status_reason = serializers.CharField()
    kind = serializers.ChoiceField(choices=JobKind.choices)
    model_id = serializers.UUIDField()
    requester = serializers.CharField(source="requester.username", allow_null=True, default=None)
    parameters = serializers.DictField()
    warnings = serializers.ListField(
        child=serializers.CharField(), help_text="what the worker did differently from what was asked"
    )
    seed = serializers.IntegerField()
    input_sha256 = OptionalTextField()
    mask_sha256 = OptionalTextField()
    queued_at = serializers.DateTimeField(source="created_at")
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    stage_ms = serializers.DictField(child=serializers.IntegerField(), help_text="milliseconds per stage")
    device = serializers.CharField()
    error = OptionalTextField()
    output = OutputSerializer(allow_null=True)


class BatchCreateSerializer(serializers.Serializer):
    """A batch request: one text-to-image job per prompt, the other parameters shared."""

    model = serializers.UUIDField(help_text="the model (ModelArtifact) id")
    prompts = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        help_text="one job per prompt, run in this order (1 to CLEANROOM_GENERATION_MAX_BATCH, default 64)",
    )
    negative_prompt = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    steps = serializers.IntegerField(required=False, help_text="denoising steps (default: the server's)")
    guidance = serializers.FloatField(required=False, help_text="classifier-free guidance scale (default 7.5)")
    width = serializers.IntegerField(required=False, help_text="a multiple of 8 (default: the model's native size)")
    height = serializers.IntegerField(required=False, help_text="a multiple of 8 (default: the model's native size)")
    seed = serializers.IntegerField(
        required=False, min_value=0, help_text="job k gets seed + k (default: a random seed per job, recorded on it)"
    )

    def parameters(self) -> dict[str, Any]:
        shared = ("negative_prompt", "steps", "guidance", "width", "height")
        return {name: self.validated_data[name] for name in shared if name in self.validated_data}


class BatchProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    finished = serializers.IntegerField(help_text="jobs in a final state")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="jobs per status")


class BatchSerializer(serializers.Serializer):
    """A batch with its jobs in run order and how far it got."""

    batch_id = serializers.UUIDField(source="pk")
    model_id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=JobKind.choices)
    requester = serializers.CharField(source="requester.username", allow_null=True, default=None)
    queued_at = serializers.DateTimeField(source="created_at")
    progress = serializers.SerializerMethodField()
    jobs = serializers.SerializerMethodField()

    @extend_schema_field(BatchProgressSerializer)
    def get_progress(self, batch) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for job in self._jobs(batch):
            counts[job.status] = counts.get(job.status, 0) + 1
        finished = sum(n for status, n in counts.items() if status in JOB_FINAL)
        return {"total": sum(counts.values()), "finished": finished, "counts": counts}

    @extend_schema_field(JobSerializer(many=True))
    def get_jobs(self, batch) -> list[dict[str, Any]]:
        return JobSerializer(self._jobs(batch), many=True).data

    def _jobs(self, batch) -> list:
        # Loaded once per batch for both fields (the view prefetches `jobs` with their outputs).
        return sorted(batch.jobs.all(), key=lambda job: job.batch_index or 0)
