"""The API's cross-cutting endpoints: tokens, the schema and its docs, the audit log."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import generics, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses as _errors
from core.api import query_filters
from core.api import serializers as s
from core.api.authentication import ApiTokenAuthentication
from core.api.permissions import HasRole
from core.api.throttles import ClientScopedRateThrottle
from core.audit import audit_events, auditlog_verify
from core.models import ApiToken, AuditEvent
from core.roles import Role
from core.tokens import token_issue, token_revoke


# -- auth and schema ------------------------------------------------------------------------
class TokenView(APIView):
    """POST trades a username and password for a new API token (its key is shown this once; send
    it as `Authorization: Token <key>`). DELETE revokes the token the request is made with."""

    # Open to all: logging in is how a caller gets credentials (the serializer checks them), and
    # logging out needs the token itself (checked by `delete`).
    permission_classes = [AllowAny]
    # Password guessing is slowed per client address (rate in settings: `auth`), and failed
    # log-ins lock the account and the address out as on the log-in page (core/login_guard.py).
    throttle_classes = [ClientScopedRateThrottle]
    throttle_scope = "auth"

    def get_authenticators(self) -> list[BaseAuthentication]:
        # Logging in ignores any Authorization header, so a stale or broken token never stops
        # anyone from getting a new one; logging out is done with the token itself (a session
        # has none). `self.request` is Django's request here, or None while the schema is built.
        if self.request is not None and self.request.method != "DELETE":
            return []
        return [ApiTokenAuthentication()]

    @extend_schema(request=s.GuardedAuthTokenSerializer, responses={200: s.IssuedTokenSerializer, **_errors(400, 429)}, auth=[])
    def post(self, request: Request) -> Response:
        login = s.GuardedAuthTokenSerializer(data=request.data, context={"request": request})
        login.is_valid(raise_exception=True)
        user = login.validated_data["user"]
        return Response(s.IssuedTokenSerializer(token_issue(user=user, actor=user)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        token = request.auth
        if not isinstance(token, ApiToken):
            raise NotAuthenticated("log out with the token to revoke: `Authorization: Token <key>`")
        token_revoke(user=token.user, actor=token.user, token_id=token.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SchemaView(SpectacularAPIView):
    # Public on purpose: the schema describes the API's shape, never its data, and clients and
    # the docs page need it before they hold a token. Every data endpoint still checks roles.
    permission_classes = [AllowAny]


class DocsView(SpectacularSwaggerSplitView):
    # Public for the same reason as the schema; its assets come from the sidecar, not a CDN.
    # The split view serves Swagger UI's set-up script at `?script` instead of inline, and the
    # template takes the page's styles from a file: the Content-Security-Policy (core/csp.py)
    # allows scripts and styles from this server's files only.
    permission_classes = [AllowAny]
    url_name = "core-api:schema"
    template_name = "core/swagger_ui.html"


# -- audit log ------------------------------------------------------------------------------
class AuditEventListView(generics.ListAPIView):
    permission_classes = [HasRole(Role.COMPLIANCE, Role.OPERATOR)]
    serializer_class = s.AuditEventSerializer

    def get_queryset(self) -> QuerySet[AuditEvent]:
        wanted = query_filters(s.AuditEventFilterSerializer, self.request)
        return audit_events(
            subject_type=wanted.get("subject_type", ""),
            subject_id=wanted.get("subject_id", ""),
            event_type=wanted.get("event_type", ""),
        )

    @extend_schema(parameters=[s.AuditEventFilterSerializer], responses={200: s.AuditEventSerializer(many=True), **_errors(400)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class AuditVerifyView(APIView):
    """Recompute the whole hash chain and report the first event that does not fit."""

    permission_classes = [HasRole(Role.COMPLIANCE, Role.OPERATOR)]

    @extend_schema(responses={200: s.AuditVerifySerializer, **_errors(403)})
    def get(self, request: Request) -> Response:
        return Response(s.AuditVerifySerializer(auditlog_verify()).data)
