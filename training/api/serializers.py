from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from training.models import BaseModel, ModelArtifact, TrainingRun
from training.selectors import base_model_approvals, model_refusal, model_refusals


class BaseModelFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()


class BaseModelSerializer(serializers.ModelSerializer):
    registered_by = serializers.CharField(source="registered_by.username", read_only=True, allow_null=True, default=None)
    files = BaseModelFileSerializer(many=True, read_only=True)
    approvals = serializers.SerializerMethodField(help_text="usernames of the reviewers who approved, in order")

    class Meta:
        model = BaseModel
        fields = [
            "id", "name", "licence", "declared_provenance", "pipeline_class", "sha256", "files", "status",
            "status_reason", "status_changed_at", "registered_by", "created_at", "approvals",
        ]  # fmt: skip
        read_only_fields = fields

    def get_approvals(self, base_model: BaseModel) -> list[str]:
        return base_model_approvals(base_model)


class BaseModelResultSerializer(serializers.Serializer):
    """The answer of `basemodel add/approve/reject/revoke`: one shape for the API and the CLI's
    `--json` alike (both render the service's BaseModel with it), so they cannot drift."""

    base_model_id = serializers.UUIDField(source="pk")
    name = serializers.CharField()
    status = serializers.CharField()
    sha256 = serializers.CharField()
    native_size = serializers.ListField(
        child=serializers.IntegerField(), allow_null=True, help_text="[width, height] the model generates by default"
    )
    approvals = serializers.SerializerMethodField(help_text="usernames of the reviewers who approved, in order")

    def get_approvals(self, base_model: BaseModel) -> list[str]:
        return base_model_approvals(base_model)


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=10_000)


class ModelSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelArtifact
        fields = ["id", "sha256", "container_sha256", "ingredient_archive_sha256"]
        read_only_fields = fields


class TrainingRunSerializer(serializers.ModelSerializer):
    """A run with everything it recorded (the list leaves out the loss curve): the API's answer
    and the `train` command's JSON alike, so the two cannot drift. `training_run_id`,
    `model_id` and `artifact_sha256` are the command-line contract's names."""

    requested_by = serializers.CharField(source="requested_by.username", read_only=True, allow_null=True, default=None)
    model = serializers.SerializerMethodField()
    training_run_id = serializers.UUIDField(source="pk", read_only=True, help_text="the same as id")
    model_id = serializers.UUIDField(source="artifact.pk", read_only=True, allow_null=True, default=None)
    artifact_sha256 = serializers.CharField(
        source="artifact.sha256", read_only=True, allow_null=True, default=None, help_text="of the LoRA weights"
    )

    class Meta:
        model = TrainingRun
        fields = [
            "id", "training_run_id", "snapshot", "base_model", "requested_by", "status", "status_changed_at",
            "progress", "steps", "seed", "config", "device", "library_versions", "loss_curve", "timings", "error",
            "error_code", "created_at", "started_at", "finished_at", "model", "model_id", "artifact_sha256",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(ModelSummarySerializer(allow_null=True))
    def get_model(self, run: TrainingRun) -> dict | None:
        artifact = getattr(run, "artifact", None)  # the reverse one-to-one raises an AttributeError when absent
        return ModelSummarySerializer(artifact).data if artifact is not None else None


class TrainingRunListSerializer(TrainingRunSerializer):
    class Meta(TrainingRunSerializer.Meta):
        fields = [name for name in TrainingRunSerializer.Meta.fields if name != "loss_curve"]
        read_only_fields = fields


class TrainingRunCreateSerializer(serializers.Serializer):
    snapshot_id = serializers.UUIDField()
    base_model_id = serializers.UUIDField()
    steps = serializers.IntegerField(required=False, min_value=1, help_text="default CLEANROOM_TRAINING_DEFAULT_STEPS")
    seed = serializers.IntegerField(required=False, min_value=0, help_text="default: a random seed, recorded")
    rank = serializers.IntegerField(required=False, min_value=1, max_value=256)
    learning_rate = serializers.FloatField(required=False, min_value=0)
    batch_size = serializers.IntegerField(required=False, min_value=1, max_value=64)
    resolution = serializers.IntegerField(required=False, min_value=8, max_value=2048)


class RefusalSerializer(serializers.Serializer):
    code = serializers.CharField()
    error = serializers.CharField()


class ModelListSerializer(serializers.ListSerializer):
    """A page of models asks whether each may generate in one go (`model_refusals`), so a list
    costs the same few queries whatever its length."""

    def to_representation(self, data) -> list:
        artifacts = list(data)
        self._context["refusals"] = model_refusals(artifacts)
        return super().to_representation(artifacts)


class ModelSerializer(serializers.ModelSerializer):
    refusal = serializers.SerializerMethodField(help_text="null when the model may generate, else why not ({code, error})")

    class Meta:
        model = ModelArtifact
        fields = [
            "id", "training_run", "snapshot", "base_model", "sha256", "size", "container_sha256",
            "ingredient_archive_sha256", "created_at", "refusal",
        ]  # fmt: skip
        read_only_fields = fields
        list_serializer_class = ModelListSerializer

    @extend_schema_field(RefusalSerializer(allow_null=True))
    def get_refusal(self, artifact: ModelArtifact) -> dict | None:
        refusals = self.context.get("refusals")
        refusal = refusals[artifact.pk] if refusals is not None else model_refusal(artifact)
        return None if refusal is None else {"code": refusal.code, "error": refusal.message}
