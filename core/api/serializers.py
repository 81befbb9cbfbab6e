"""The error shape every endpoint answers with, a newly issued token, and the audit log's answers."""

from __future__ import annotations

from rest_framework import serializers

from core.models import AuditEvent


class OptionalTextField(serializers.CharField):
    """Text a model stores as "" when there is none, shown as null (read only)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        return super().to_representation(value) if value else None


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="a sentence for a person")
    code = serializers.CharField(help_text="a stable machine-readable slug")


class IssuedTokenSerializer(serializers.Serializer):
    """A token just issued, for `POST auth/token/` and `user token --json` alike."""

    username = serializers.CharField(source="token.user.username")
    token = serializers.CharField(source="key", help_text="send as `Authorization: Token <token>`; shown only this once")
    token_id = serializers.IntegerField(source="token.pk", help_text="names the token to revoke")
    expires_at = serializers.DateTimeField(source="token.expires_at")


class AuditEventSerializer(serializers.ModelSerializer):
    details = serializers.DictField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["seq", "created_at", "actor", "event_type", "subject_type", "subject_id", "details", "prev_hash", "hash"]
        read_only_fields = fields


class AuditVerifySerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    events = serializers.IntegerField()
    first_bad_event = serializers.IntegerField(allow_null=True)
    problem = serializers.CharField(allow_null=True)
