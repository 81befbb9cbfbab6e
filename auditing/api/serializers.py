"""Request and response shapes for findings and protected works; the services decide, these only
validate and render."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from auditing.models import Finding, FindingStatus
from provenance.api.serializers import IngestRefusedSerializer
from provenance.models import Asset

if TYPE_CHECKING:  # the service loads the near-duplicate engine, which the web process must not
    from auditing.services.protected import ProtectedAddition


class FindingSerializer(serializers.ModelSerializer):
    asset = serializers.UUIDField(source="asset_id", read_only=True)
    asset_status = serializers.CharField(source="asset.status", read_only=True, help_text="the asset's status now")
    details = serializers.DictField(read_only=True, help_text="the auditor's evidence (positions, matched work...)")
    resolved_by = serializers.CharField(source="resolved_by.username", default=None, read_only=True, allow_null=True)
    covering_consent = serializers.UUIDField(
        source="covering_consent_id",
        read_only=True,
        allow_null=True,
        help_text="the consent that made this finding informational (a face: its likeness consent), kept once it lapses",
    )
    consent_note = serializers.CharField(read_only=True, help_text="what that consent means for this finding, in words")

    class Meta:
        model = Finding
        fields = [
            "id", "asset", "asset_status", "auditor", "auditor_version", "code", "score", "details", "status",
            "covering_consent", "consent_note", "resolved_by", "resolution_reason", "resolved_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class FindingFilterSerializer(serializers.Serializer):
    """The list's query parameters; a malformed one is a 400, never a silently empty list."""

    asset = serializers.UUIDField(required=False, help_text="only findings on this asset")
    dataset = serializers.SlugField(required=False, help_text="only findings on assets of this dataset (slug)")
    status = serializers.ChoiceField(choices=FindingStatus.choices, required=False)
    auditor = serializers.CharField(required=False, max_length=32, help_text="e.g. synthetic, pii, nsfw")


class FindingResolveSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["dismiss", "confirm"], help_text="dismiss clears, confirm rejects the asset")
    reason = serializers.CharField(max_length=10_000)


class AuditQueuedSerializer(serializers.Serializer):
    queued = serializers.ListField(
        child=serializers.UUIDField(), help_text="the assets queued; those already audited by current versions are left out"
    )


class AssetFindingSerializer(serializers.ModelSerializer):
    finding_id = serializers.UUIDField(source="pk", read_only=True)
    detail = serializers.DictField(source="details", read_only=True)
    covering_consent = serializers.UUIDField(source="covering_consent_id", read_only=True, allow_null=True)

    class Meta:
        model = Finding
        fields = ["finding_id", "auditor", "auditor_version", "code", "score", "status", "covering_consent", "detail"]
        read_only_fields = fields


class AssetAuditSerializer(serializers.ModelSerializer):
    """An asset's audit: its status and findings (the `audit` command's `assets` rows). Give it
    assets from `auditing.selectors.dataset_audit_report`, which prefetches the findings."""

    asset_id = serializers.UUIDField(source="pk", read_only=True)
    findings = AssetFindingSerializer(source="audit_findings", many=True, read_only=True)

    class Meta:
        model = Asset
        fields = ["asset_id", "sha256", "status", "findings"]
        read_only_fields = fields


class ProtectedAddedSerializer(serializers.Serializer):
    path = serializers.CharField()
    protected_work_id = serializers.UUIDField()


class ProtectedAdditionSerializer(serializers.Serializer):
    """The answer of `protected add`: `added: [{path, protected_work_id}]`, `refused: [{path, reason, detail}]`."""

    added = serializers.SerializerMethodField()
    refused = IngestRefusedSerializer(many=True)

    @extend_schema_field(ProtectedAddedSerializer(many=True))
    def get_added(self, addition: ProtectedAddition) -> list[dict]:
        return [{"path": path, "protected_work_id": str(work.pk)} for path, work in addition.added]
