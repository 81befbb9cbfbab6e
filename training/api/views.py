"""The training REST API: thin adapters over training's selectors and services.

Roles first (401 without credentials, 403 without the role), then the object is looked up in
the caller's visible queryset (404 if hidden or absent); the services check the actor again.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses as _errors
from core.api import visible_or_404 as _visible
from core.api.permissions import HasRole
from core.roles import Role
from provenance.api.exports import ExportJobSerializer, ExportRequestSerializer, export_started
from provenance.exports.formats import MODEL
from provenance.exports.jobs import EXPORTERS
from training.api import serializers as s
from training.models import BASE_MODEL_READERS, MODEL_READERS, RUN_READERS, BaseModel, ModelArtifact, TrainingRun
from training.services import base_model_approve, base_model_reject, training_cancel, training_request

RUN_REQUESTERS = (Role.ML_ENGINEER,)
_OPTIONS = ("rank", "learning_rate", "batch_size", "resolution")


def _runs(user: Any) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.visible_to(user).select_related("requested_by", "artifact").order_by("-created_at", "id")


def _base_models(user: Any) -> QuerySet[BaseModel]:
    return BaseModel.objects.visible_to(user).select_related("registered_by").order_by("name")


def _models(user: Any) -> QuerySet[ModelArtifact]:
    return ModelArtifact.objects.visible_to(user).select_related("snapshot", "base_model").order_by("-created_at", "id")


# -- base models ----------------------------------------------------------------------------
class BaseModelListView(generics.ListAPIView):
    """Registered base models (registration reads a server directory: the `basemodel add` command)."""

    permission_classes = [HasRole(*BASE_MODEL_READERS)]
    serializer_class = s.BaseModelSerializer

    def get_queryset(self) -> QuerySet[BaseModel]:
        return _base_models(self.request.user)


class BaseModelDetailView(generics.RetrieveAPIView):
    permission_classes = [HasRole(*BASE_MODEL_READERS)]
    serializer_class = s.BaseModelSerializer

    def get_object(self) -> BaseModel:
        return _visible(_base_models(self.request.user), "base_model", pk=self.kwargs["pk"])


class BaseModelApproveView(APIView):
    """One reviewer's approval; the second distinct reviewer's approves the base model."""

    permission_classes = [HasRole(Role.REVIEWER)]

    @extend_schema(request=None, responses={200: s.BaseModelResultSerializer, **_errors(403, 404, 409)})
    def post(self, request: Request, pk: str) -> Response:
        base_model = _visible(_base_models(request.user), "base_model", pk=pk)
        approved = base_model_approve(base_model_id=base_model.pk, reviewer=request.user)
        return Response(s.BaseModelResultSerializer(approved).data)


class BaseModelRejectView(APIView):
    permission_classes = [HasRole(Role.REVIEWER)]

    @extend_schema(request=s.RejectSerializer, responses={200: s.BaseModelResultSerializer, **_errors(400, 403, 404, 409)})
    def post(self, request: Request, pk: str) -> Response:
        base_model = _visible(_base_models(request.user), "base_model", pk=pk)
        serializer = s.RejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rejected = base_model_reject(
            base_model_id=base_model.pk, reviewer=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(s.BaseModelResultSerializer(rejected).data)


# -- training runs --------------------------------------------------------------------------
class TrainingRunListCreateView(generics.ListAPIView):
    """GET: runs, newest first (no loss curve; see a run's detail). POST: request a run on the
    `gpu` queue (202): every rule is checked first, and a refusal creates no run."""

    serializer_class = s.TrainingRunListSerializer

    def get_permissions(self) -> list[BasePermission]:
        roles = RUN_REQUESTERS if self.request.method == "POST" else RUN_READERS
        return [HasRole(*roles)()]

    def get_queryset(self) -> QuerySet[TrainingRun]:
        return _runs(self.request.user)

    @extend_schema(request=s.TrainingRunCreateSerializer, responses={202: s.TrainingRunSerializer, **_errors(400, 403, 404, 409)})
    def post(self, request: Request) -> Response:
        serializer = s.TrainingRunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = training_request(
            snapshot_id=data["snapshot_id"],
            base_model_id=data["base_model_id"],
            steps=data.get("steps"),
            seed=data.get("seed"),
            options={name: data[name] for name in _OPTIONS if name in data} or None,
            actor=request.user,
        )
        return Response(s.TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class TrainingRunDetailView(generics.RetrieveAPIView):
    """A run's status, progress (0..1), loss curve, config, seed, library versions and model."""

    permission_classes = [HasRole(*RUN_READERS)]
    serializer_class = s.TrainingRunSerializer

    def get_object(self) -> TrainingRun:
        return _visible(_runs(self.request.user), "training_run", pk=self.kwargs["pk"])


class TrainingRunCancelView(APIView):
    permission_classes = [HasRole(*RUN_REQUESTERS)]

    @extend_schema(request=None, responses={200: s.TrainingRunSerializer, **_errors(403, 404, 409)})
    def post(self, request: Request, pk: str) -> Response:
        run = _visible(_runs(request.user), "training_run", pk=pk)
        run = training_cancel(run_id=run.pk, actor=request.user)
        return Response(s.TrainingRunSerializer(run).data)


# -- models ---------------------------------------------------------------------------------
class ModelListView(generics.ListAPIView):
    """Trained models with their digests and whether each may still generate."""

    permission_classes = [HasRole(*MODEL_READERS)]
    serializer_class = s.ModelSerializer

    def get_queryset(self) -> QuerySet[ModelArtifact]:
        return _models(self.request.user)


class ModelDetailView(generics.RetrieveAPIView):
    permission_classes = [HasRole(*MODEL_READERS)]
    serializer_class = s.ModelSerializer

    def get_object(self) -> ModelArtifact:
        return _visible(_models(self.request.user), "model", pk=self.kwargs["pk"])


class ModelExportView(APIView):
    """Export a model's report (compliance) in a background job; follow and download it under
    /api/v1/exports/<id>/ as a snapshot's."""

    permission_classes = [HasRole(*EXPORTERS)]

    @extend_schema(
        request=ExportRequestSerializer,
        responses={202: ExportJobSerializer, **_errors(400, 403, 404, 409)},
        description="Export the model's report in a background job. Formats: json, pdf, eu-summary (Markdown).",
    )
    def post(self, request: Request, pk: str) -> Response:
        model = _visible(_models(request.user), "model", pk=pk)
        return export_started(request, MODEL, str(model.pk))
