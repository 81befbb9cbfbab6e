"""Request shapes (types checked here, rules decided by the services) and response shapes.

Responses are the selectors' documents (`job_result`, `output_result`), the same the CLI
prints; the serializers below describe them for the schema.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from generation.models import GenerationJob, JobKind, JobStatus
from generation.selectors import job_result

# The parameters a request may carry; which of them a kind takes is the service's rule.
PARAMETER_FIELDS = ("prompt", "negative_prompt", "steps", "guidance", "strength", "width", "height", "scale")


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
    output_id = serializers.UUIDField()
    released = serializers.BooleanField()
    withheld_reason = serializers.CharField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True, help_text="of the signed PNG (released outputs)")
    mime_type = serializers.CharField(allow_null=True)
    size = serializers.IntegerField(allow_null=True)
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    watermark_id = serializers.IntegerField(allow_null=True, help_text="the id its invisible watermark carries, if embedded")
    watermark_note = serializers.CharField(allow_null=True)
    manifest_label = serializers.CharField(allow_null=True)
    moderation = ModerationSerializer()


class JobSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    status_reason = serializers.CharField()
    kind = serializers.ChoiceField(choices=JobKind.choices)
    model_id = serializers.UUIDField()
    requester = serializers.CharField(allow_null=True)
    parameters = serializers.DictField()
    seed = serializers.IntegerField()
    input_sha256 = serializers.CharField(allow_null=True)
    mask_sha256 = serializers.CharField(allow_null=True)
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    stage_ms = serializers.DictField(child=serializers.IntegerField(), help_text="milliseconds per stage")
    device = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    output = OutputSerializer(allow_null=True)

    def to_representation(self, instance: Any) -> dict:
        # Lists hand over model rows; the document is the selectors' (the CLI prints the same).
        return job_result(instance) if isinstance(instance, GenerationJob) else instance
