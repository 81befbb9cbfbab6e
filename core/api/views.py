"""The API's cross-cutting endpoints: tokens, the schema and its docs, the audit log."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import generics
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses as _errors
from core.api import serializers as s
from core.api.parsers import BoundedJSONParser
from core.api.permissions import HasRole
from core.api.throttles import ClientScopedRateThrottle
from core.audit import audit_events, auditlog_verify
from core.models import AuditEvent
from core.roles import Role


# -- auth and schema ------------------------------------------------------------------------
class TokenObtainView(ObtainAuthToken):
    """Trade a username and password for an API token; send it as `Authorization: Token <key>`."""

    # Open to all: logging in is how a caller gets credentials; the serializer checks them.
    permission_classes = [AllowAny]
    # A stale or broken token header must not stop anyone from getting a new one.
    authentication_classes: list = []
    # Password guessing is slowed per client address (rate in settings: `auth`), and failed
    # log-ins lock the account and the address out as on the log-in page (core/login_guard.py).
    throttle_classes = [ClientScopedRateThrottle]
    throttle_scope = "auth"
    serializer_class = s.GuardedAuthTokenSerializer
    # ObtainAuthToken names DRF's JSON parser itself: ours bounds the nesting.
    parser_classes = [FormParser, MultiPartParser, BoundedJSONParser]

    @extend_schema(responses={200: s.GuardedAuthTokenSerializer, **_errors(429)})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class SchemaView(SpectacularAPIView):
    # Public on purpose: the schema describes the API's shape, never its data, and clients and
    # the docs page need it before they hold a token. Every data endpoint still checks roles.
    permission_classes = [AllowAny]


class DocsView(SpectacularSwaggerView):
    # Public for the same reason as the schema; its assets come from the sidecar, not a CDN.
    permission_classes = [AllowAny]
    url_name = "core-api:schema"


# -- audit log ------------------------------------------------------------------------------
class AuditEventListView(generics.ListAPIView):
    permission_classes = [HasRole(Role.COMPLIANCE, Role.OPERATOR)]
    serializer_class = s.AuditEventSerializer

    def get_queryset(self) -> QuerySet[AuditEvent]:
        params = self.request.query_params
        return audit_events(
            subject_type=params.get("subject_type", ""),
            subject_id=params.get("subject_id", ""),
            event_type=params.get("event_type", ""),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("subject_type", OpenApiTypes.STR, description="e.g. consentrecord, asset, snapshot"),
            OpenApiParameter("subject_id", OpenApiTypes.STR),
            OpenApiParameter("event_type", OpenApiTypes.STR, description="e.g. consent.revoked"),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class AuditVerifyView(APIView):
    """Recompute the whole hash chain and report the first event that does not fit."""

    permission_classes = [HasRole(Role.COMPLIANCE, Role.OPERATOR)]

    @extend_schema(responses={200: s.AuditVerifySerializer, **_errors(403)})
    def get(self, request: Request) -> Response:
        return Response(auditlog_verify().as_json())
