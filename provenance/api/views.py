"""The REST API: thin adapters from HTTP to provenance's selectors and services.

Every view names its permission classes (the settings deny by default). A view checks the
caller's role first (401 without credentials, 403 without the role), then finds its object in
the caller's *visible* queryset, so another user's object answers 404 and never leaks. Business
rules live in the services, which check the actor again; a refusal there is an
ApplicationError that core.api turns into JSON with its status.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses as _errors
from core.api import query_filters
from core.api import visible_or_404 as _visible
from core.api.permissions import ANY_ROLE, HasRole, PermissionsByMethod
from core.exceptions import PermissionDenied
from core.roles import Role
from provenance.api import serializers as s
from provenance.api.permissions import CONSENT_READERS, SNAPSHOT_READERS, may_grant_consent_for
from provenance.models import Asset, ConsentRecord, Contributor, Dataset, Snapshot
from provenance.selectors import consents_visible_to
from provenance.services.assets import asset_review
from provenance.services.consent import consent_grant, consent_renew, consent_revoke
from provenance.services.contributors import contributor_add, contributor_get, source_get_or_create
from provenance.services.datasets import ENROLLERS, dataset_create, dataset_enrol, dataset_unenrol
from provenance.services.ingest import ingest_uploads
from provenance.services.snapshots import snapshot_approve, snapshot_create, snapshot_prove, snapshot_reject


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _consents(user: Any) -> QuerySet[ConsentRecord]:
    return consents_visible_to(user).prefetch_related("events", "depicted_persons").order_by("-recorded_at", "id")


# -- contributors and datasets --------------------------------------------------------------
class ContributorListCreateView(PermissionsByMethod, generics.ListAPIView):
    permission_classes_by_method = {
        "GET": [HasRole(Role.OPERATOR, Role.REVIEWER, Role.COMPLIANCE)],
        "POST": [HasRole(Role.OPERATOR)],
    }
    serializer_class = s.ContributorSerializer
    queryset = Contributor.objects.select_related("user").order_by("email")

    @extend_schema(request=s.ContributorCreateSerializer, responses={201: s.ContributorSerializer, **_errors(400, 403)})
    def post(self, request: Request) -> Response:
        data = _valid(s.ContributorCreateSerializer, request)
        contributor = contributor_add(
            email=data["email"], name=data["name"], username=data["username"] or None, actor=request.user
        )
        return Response(s.ContributorSerializer(contributor).data, status=status.HTTP_201_CREATED)


class DatasetListCreateView(PermissionsByMethod, generics.ListAPIView):
    permission_classes_by_method = {
        "GET": [HasRole(*ANY_ROLE)],
        "POST": [HasRole(Role.OPERATOR, Role.ML_ENGINEER)],
    }
    serializer_class = s.DatasetSerializer

    def get_queryset(self) -> QuerySet[Dataset]:
        return Dataset.objects.visible_to(self.request.user).order_by("slug")

    @extend_schema(request=s.DatasetCreateSerializer, responses={201: s.DatasetSerializer, **_errors(400, 403, 409)})
    def post(self, request: Request) -> Response:
        data = _valid(s.DatasetCreateSerializer, request)
        dataset = dataset_create(slug=data["slug"], scopes=data["scopes"], name=data["name"], actor=request.user)
        return Response(s.DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetailView(generics.RetrieveAPIView):
    permission_classes = [HasRole(*ANY_ROLE)]
    serializer_class = s.DatasetSerializer

    def get_object(self) -> Dataset:
        return _visible(Dataset.objects.visible_to(self.request.user), "dataset", slug=self.kwargs["slug"])


class DatasetEnrolView(APIView):
    """Let a contributor see the dataset and ingest into it (201; 200 when already enrolled)."""

    permission_classes = [HasRole(*ENROLLERS)]

    @extend_schema(
        request=s.DatasetEnrolSerializer,
        responses={
            201: OpenApiResponse(s.EnrolmentChangeSerializer, description="enrolled now"),
            200: OpenApiResponse(s.EnrolmentChangeSerializer, description="already enrolled: nothing changed"),
            **_errors(400, 403, 404),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        dataset = _visible(Dataset.objects.visible_to(request.user), "dataset", slug=slug)
        data = _valid(s.DatasetEnrolSerializer, request)
        change = dataset_enrol(
            dataset=dataset, contributor=contributor_get(email=data["contributor"]), actor=request.user, reason=data["reason"]
        )
        body = s.EnrolmentChangeSerializer(change).data
        return Response(body, status=status.HTTP_201_CREATED if change.changed else status.HTTP_200_OK)


class DatasetUnenrolView(APIView):
    """Stop a contributor seeing the dataset and ingesting into it; their assets in it stay."""

    permission_classes = [HasRole(*ENROLLERS)]

    @extend_schema(request=s.DatasetEnrolSerializer, responses={200: s.EnrolmentChangeSerializer, **_errors(400, 403, 404)})
    def post(self, request: Request, slug: str) -> Response:
        dataset = _visible(Dataset.objects.visible_to(request.user), "dataset", slug=slug)
        data = _valid(s.DatasetEnrolSerializer, request)
        change = dataset_unenrol(
            dataset=dataset, contributor=contributor_get(email=data["contributor"]), actor=request.user, reason=data["reason"]
        )
        return Response(s.EnrolmentChangeSerializer(change).data)


# -- consent --------------------------------------------------------------------------------
class ConsentListCreateView(PermissionsByMethod, generics.ListAPIView):
    permission_classes_by_method = {
        "GET": [HasRole(*CONSENT_READERS)],
        # A contributor may record their own consent; may_grant_consent_for narrows it below.
        "POST": [HasRole(Role.OPERATOR, Role.CONTRIBUTOR)],
    }
    serializer_class = s.ConsentSerializer

    def get_queryset(self) -> QuerySet[ConsentRecord]:
        return _consents(self.request.user)

    @extend_schema(
        request={"multipart/form-data": s.ConsentCreateSerializer},
        responses={
            201: OpenApiResponse(s.ConsentSerializer, description="a new consent record"),
            200: OpenApiResponse(s.ConsentSerializer, description="the same document was recorded before"),
            **_errors(400, 403),
        },
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.ConsentCreateSerializer, request)
        if not may_grant_consent_for(request.user, data["contributor"]):
            raise PermissionDenied("a contributor may record consent only for their own contributor record")
        consent, created = consent_grant(
            document=data["document"],
            contributor=contributor_get(email=data["contributor"]),
            open_evidence=data["open_evidence"],
            actor=request.user,
        )
        body = s.ConsentSerializer(_consents(request.user).get(pk=consent.pk)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ConsentDetailView(generics.RetrieveAPIView):
    permission_classes = [HasRole(*CONSENT_READERS)]
    serializer_class = s.ConsentSerializer

    def get_object(self) -> ConsentRecord:
        return _visible(_consents(self.request.user), "consent", pk=self.kwargs["pk"])


class ConsentRevokeView(APIView):
    permission_classes = [HasRole(Role.OPERATOR, Role.REVIEWER, Role.CONTRIBUTOR)]

    @extend_schema(
        request=s.ConsentRevokeSerializer, responses={200: s.ConsentRevokeResultSerializer, **_errors(400, 403, 404, 409)}
    )
    def post(self, request: Request, pk: str) -> Response:
        consent = _visible(consents_visible_to(request.user), "consent", pk=pk)
        data = _valid(s.ConsentRevokeSerializer, request)
        revocation = consent_revoke(consent_id=str(consent.pk), actor=request.user, reason=data["reason"])
        return Response(s.ConsentRevokeResultSerializer(revocation).data)


class ConsentRenewView(APIView):
    permission_classes = [HasRole(Role.OPERATOR, Role.REVIEWER, Role.CONTRIBUTOR)]

    @extend_schema(request=s.ConsentRenewSerializer, responses={200: s.ConsentSerializer, **_errors(400, 403, 404, 409)})
    def post(self, request: Request, pk: str) -> Response:
        consent = _visible(consents_visible_to(request.user), "consent", pk=pk)
        data = _valid(s.ConsentRenewSerializer, request)
        consent_renew(consent_id=str(consent.pk), actor=request.user, expires_at=data["expires_at"], reason=data["reason"])
        return Response(s.ConsentSerializer(_consents(request.user).get(pk=consent.pk)).data)


# -- ingest and assets ----------------------------------------------------------------------
class IngestView(APIView):
    """Upload images (and ZIPs of images) under a consent; each file is accepted or refused."""

    permission_classes = [HasRole(Role.OPERATOR, Role.CONTRIBUTOR)]

    @extend_schema(
        request={"multipart/form-data": s.IngestSerializer},
        responses={
            200: OpenApiResponse(s.IngestResultSerializer, description="also when some files were refused"),
            **_errors(400, 403, 404, 413),
        },
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.IngestSerializer, request)
        consent = _visible(consents_visible_to(request.user), "consent", pk=data["consent_id"])
        result = ingest_uploads(
            files=[(upload.name, upload) for upload in data["files"]],
            dataset_slug=data["dataset"],
            consent=consent,
            source=source_get_or_create(url=data["source_url"], licence_spdx=data["licence"]),
            actor=request.user,
        )
        return Response(s.IngestResultSerializer(result).data)


class AssetListView(generics.ListAPIView):
    permission_classes = [HasRole(*CONSENT_READERS)]
    serializer_class = s.AssetSerializer

    def get_queryset(self) -> QuerySet[Asset]:
        wanted = query_filters(s.AssetFilterSerializer, self.request)
        assets = Asset.objects.visible_to(self.request.user).select_related("contributor").order_by("-created_at", "id")
        if "status" in wanted:
            assets = assets.filter(status=wanted["status"])
        return assets

    @extend_schema(parameters=[s.AssetFilterSerializer], responses={200: s.AssetSerializer(many=True), **_errors(400)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class AssetDetailView(generics.RetrieveAPIView):
    permission_classes = [HasRole(*CONSENT_READERS)]
    serializer_class = s.AssetSerializer

    def get_object(self) -> Asset:
        assets = Asset.objects.visible_to(self.request.user).select_related("contributor")
        return _visible(assets, "asset", pk=self.kwargs["pk"])


class AssetReviewView(APIView):
    permission_classes = [HasRole(Role.REVIEWER)]

    @extend_schema(request=s.AssetReviewSerializer, responses={200: s.AssetSerializer, **_errors(400, 403, 404, 409)})
    def post(self, request: Request, pk: str) -> Response:
        asset = _visible(Asset.objects.visible_to(request.user), "asset", pk=pk)
        data = _valid(s.AssetReviewSerializer, request)
        reviewed = asset_review(asset_id=str(asset.pk), reviewer=request.user, decision=data["decision"], reason=data["reason"])
        return Response(s.AssetSerializer(reviewed).data)


# -- snapshots ------------------------------------------------------------------------------
def _snapshots(user: Any) -> QuerySet[Snapshot]:
    return Snapshot.objects.visible_to(user).select_related("dataset", "created_by").order_by("-created_at", "id")


class SnapshotListCreateView(PermissionsByMethod, generics.ListAPIView):
    permission_classes_by_method = {
        "GET": [HasRole(*SNAPSHOT_READERS)],
        "POST": [HasRole(Role.ML_ENGINEER, Role.OPERATOR)],
    }
    serializer_class = s.SnapshotSerializer

    def get_queryset(self) -> QuerySet[Snapshot]:
        wanted = query_filters(s.SnapshotFilterSerializer, self.request)
        snapshots = _snapshots(self.request.user)
        if "status" in wanted:
            snapshots = snapshots.filter(status=wanted["status"])
        return snapshots

    @extend_schema(parameters=[s.SnapshotFilterSerializer], responses={200: s.SnapshotSerializer(many=True), **_errors(400)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.SnapshotCreateSerializer, responses={201: s.SnapshotCreateResultSerializer, **_errors(400, 403, 404)}
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.SnapshotCreateSerializer, request)
        snapshot = snapshot_create(dataset_slug=data["dataset"], actor=request.user)
        return Response(s.SnapshotCreateResultSerializer(snapshot).data, status=status.HTTP_201_CREATED)


class SnapshotDetailView(generics.RetrieveAPIView):
    permission_classes = [HasRole(*SNAPSHOT_READERS)]
    serializer_class = s.SnapshotSerializer

    def get_object(self) -> Snapshot:
        return _visible(_snapshots(self.request.user), "snapshot", pk=self.kwargs["pk"])


class SnapshotApproveView(APIView):
    """One reviewer's approval; the second distinct reviewer's approves the snapshot."""

    permission_classes = [HasRole(Role.REVIEWER)]

    @extend_schema(request=None, responses={200: s.SnapshotReviewResultSerializer, **_errors(403, 404, 409)})
    def post(self, request: Request, pk: str) -> Response:
        snapshot = _visible(_snapshots(request.user), "snapshot", pk=pk)
        approved = snapshot_approve(snapshot_id=str(snapshot.pk), reviewer=request.user)
        return Response(s.SnapshotReviewResultSerializer(approved).data)


class SnapshotRejectView(APIView):
    permission_classes = [HasRole(Role.REVIEWER)]

    @extend_schema(
        request=s.SnapshotRejectSerializer, responses={200: s.SnapshotReviewResultSerializer, **_errors(400, 403, 404, 409)}
    )
    def post(self, request: Request, pk: str) -> Response:
        snapshot = _visible(_snapshots(request.user), "snapshot", pk=pk)
        data = _valid(s.SnapshotRejectSerializer, request)
        rejected = snapshot_reject(snapshot_id=str(snapshot.pk), reviewer=request.user, reason=data["reason"])
        return Response(s.SnapshotReviewResultSerializer(rejected).data)


class SnapshotProveView(APIView):
    """An RFC 9162 inclusion proof for an image (uploaded, or named by its sha256)."""

    permission_classes = [HasRole(*SNAPSHOT_READERS)]

    @extend_schema(
        request={"multipart/form-data": s.SnapshotProveSerializer, "application/json": s.SnapshotProveSerializer},
        responses={200: s.SnapshotProofSerializer, **_errors(400, 403, 404)},
    )
    def post(self, request: Request, pk: str) -> Response:
        snapshot = _visible(_snapshots(request.user), "snapshot", pk=pk)
        data = _valid(s.SnapshotProveSerializer, request)
        return Response(s.SnapshotProofSerializer(snapshot_prove(snapshot_id=str(snapshot.pk), sha256=data["sha256"])).data)
