"""The error shape every endpoint answers with, the token request, a newly issued token, and the
audit log's answers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from core.login_guard import login_authenticate
from core.models import AuditEvent


class OptionalTextField(serializers.CharField):
    """Text a model stores as "" when there is none, shown as null (read only)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        return super().to_representation(value) if value else None


# The body of every error answer (core/api/errors.py), named `Error` in the schema. Codes add
# their evidence as further keys (`lapsed_consents`, `changed_files`, `max_files`, ...).
class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="a sentence for a person")
    code = serializers.CharField(help_text="a stable machine-readable slug")

    def get_fields(self) -> dict[str, serializers.Field]:
        # `fields` is also the name of Serializer's own attribute, so this field is added here.
        return {
            **super().get_fields(),
            "fields": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()),
                required=False,
                help_text="code `invalid`: the messages of each field, by its path (`document.scopes.1`); those of no "
                "one field under `non_field_errors`",
            ),
            "retry_after": serializers.IntegerField(
                required=False, help_text="codes `throttled`, `login_locked`: seconds to wait (also the Retry-After header)"
            ),
        }


class IssuedTokenSerializer(serializers.Serializer):
    """A token just issued, for `POST auth/token/` and `user token --json` alike."""

    username = serializers.CharField(source="token.user.username")
    token = serializers.CharField(source="key", help_text="send as `Authorization: Token <token>`; shown only this once")
    token_id = serializers.IntegerField(source="token.pk", help_text="names the token to revoke")
    expires_at = serializers.DateTimeField(source="token.expires_at")


# DRF's token request, with failed log-ins counted and locked out like the log-in page's
# (core/login_guard.py): a locked account or address raises LoginLocked, answered 429. The
# schema keeps DRF's component name.
@extend_schema_serializer(component_name="AuthToken")
class GuardedAuthTokenSerializer(AuthTokenSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        username, password = attrs.get("username"), attrs.get("password")
        if not (username and password):
            return super().validate(attrs)  # DRF's own "must include" error
        user = login_authenticate(request=self.context["request"], username=username, password=password)
        if user is None:
            raise serializers.ValidationError("Unable to log in with provided credentials.", code="authorization")
        return {**attrs, "user": user}


class AuditEventSerializer(serializers.ModelSerializer):
    details = serializers.DictField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["seq", "created_at", "actor", "event_type", "subject_type", "subject_id", "details", "prev_hash", "hash"]
        read_only_fields = fields


class AuditEventFilterSerializer(serializers.Serializer):
    subject_type = serializers.CharField(required=False, max_length=64, help_text="e.g. consentrecord, asset, snapshot")
    subject_id = serializers.CharField(required=False, max_length=64)
    event_type = serializers.CharField(required=False, max_length=64, help_text="e.g. consent.revoked")


class AuditVerifySerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    events = serializers.IntegerField()
    first_bad_event = serializers.IntegerField(allow_null=True)
    problem = serializers.CharField(allow_null=True)
