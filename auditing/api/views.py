"""The findings API: thin adapters from HTTP to auditing's selectors and services.

Same conventions as provenance.api: each view names its permission classes (role first: 401
without credentials, 403 without the role), then looks its object up in the caller's visible
queryset, so another user's finding, asset or dataset answers 404 and never leaks. Which
findings a caller sees is `findings_visible_to` (a finding follows its asset's visibility).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from auditing.api import serializers as s
from auditing.models import Finding
from auditing.selectors import findings_visible_to
from auditing.services import audits_request, finding_resolve
from core.api import error_responses as _errors
from core.api import query_filters
from core.api import visible_or_404 as _visible
from core.api.permissions import HasRole
from core.roles import Role
from provenance.models import Asset, Dataset

# The roles `Asset.objects.visible_to` shows assets to (a contributor: their own only), and so
# the roles that see findings; an ML engineer or a user with no role is refused outright.
FINDING_READERS: tuple[str, ...] = (Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE, Role.CONTRIBUTOR)


def _findings(user: Any) -> QuerySet[Finding]:
    return findings_visible_to(user).select_related("resolved_by").order_by("-created_at", "id")


class _FindingList(generics.ListAPIView):
    """A paginated list of the caller's visible findings, narrowed by the query parameters."""

    permission_classes = [HasRole(*FINDING_READERS)]
    serializer_class = s.FindingSerializer

    def scope(self, findings: QuerySet[Finding]) -> QuerySet[Finding]:
        return findings

    def get_queryset(self) -> QuerySet[Finding]:
        wanted = query_filters(s.FindingFilterSerializer, self.request)
        findings = self.scope(_findings(self.request.user))
        if "asset" in wanted:
            findings = findings.filter(asset_id=wanted["asset"])
        if "dataset" in wanted:
            findings = findings.filter(asset__memberships__dataset__slug=wanted["dataset"])
        if "status" in wanted:
            findings = findings.filter(status=wanted["status"])
        if "auditor" in wanted:
            findings = findings.filter(auditor=wanted["auditor"])
        return findings

    @extend_schema(parameters=[s.FindingFilterSerializer], responses={200: s.FindingSerializer(many=True), **_errors(400, 403)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class FindingListView(_FindingList):
    """Findings the caller may see: all of them for reviewers, operators and compliance; a
    contributor's on their own images only."""


class AssetFindingListView(_FindingList):
    """One asset's findings (404 if the caller may not see the asset)."""

    def scope(self, findings: QuerySet[Finding]) -> QuerySet[Finding]:
        asset = _visible(Asset.objects.visible_to(self.request.user), "asset", pk=self.kwargs["pk"])
        return findings.filter(asset=asset)

    @extend_schema(
        parameters=[s.FindingFilterSerializer], responses={200: s.FindingSerializer(many=True), **_errors(400, 403, 404)}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class DatasetFindingListView(_FindingList):
    """The findings on a dataset's assets (404 if the caller may not see the dataset)."""

    def scope(self, findings: QuerySet[Finding]) -> QuerySet[Finding]:
        dataset = _visible(Dataset.objects.visible_to(self.request.user), "dataset", slug=self.kwargs["slug"])
        return findings.filter(asset__memberships__dataset=dataset)

    @extend_schema(
        parameters=[s.FindingFilterSerializer], responses={200: s.FindingSerializer(many=True), **_errors(400, 403, 404)}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class FindingDetailView(generics.RetrieveAPIView):
    permission_classes = [HasRole(*FINDING_READERS)]
    serializer_class = s.FindingSerializer

    def get_object(self) -> Finding:
        return _visible(_findings(self.request.user), "finding", pk=self.kwargs["pk"])


class FindingResolveView(APIView):
    """Dismiss a finding (its asset clears once none is open) or confirm it (the asset is rejected)."""

    permission_classes = [HasRole(Role.REVIEWER)]

    @extend_schema(request=s.FindingResolveSerializer, responses={200: s.FindingSerializer, **_errors(400, 403, 404, 409)})
    def post(self, request: Request, pk: str) -> Response:
        finding = _visible(_findings(request.user), "finding", pk=pk)
        body = s.FindingResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        finding_resolve(
            finding_id=str(finding.pk),
            reviewer=request.user,
            decision=body.validated_data["decision"],
            reason=body.validated_data["reason"],
        )
        # Read back through the selector: the service moved the asset too (clear or rejected).
        return Response(s.FindingSerializer(_findings(request.user).get(pk=finding.pk)).data)


class DatasetAuditView(APIView):
    """Queue an audit of every asset of the dataset that the current auditor versions have not
    yet run on; the audit itself runs on the `audit` workers after this answers."""

    permission_classes = [HasRole(Role.OPERATOR, Role.ML_ENGINEER)]

    @extend_schema(request=None, responses={202: s.AuditQueuedSerializer, **_errors(403, 404)})
    def post(self, request: Request, slug: str) -> Response:
        dataset = _visible(Dataset.objects.visible_to(request.user), "dataset", slug=slug)
        asset_ids = list(dataset.assets.order_by("created_at", "id").values_list("pk", flat=True))
        queued = audits_request(asset_ids=asset_ids, actor=request.user)
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)
