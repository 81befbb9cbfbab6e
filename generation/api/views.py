"""The generation API: thin adapters from HTTP to generation's selectors and services.

Only product teams submit jobs. A job is seen by its requester, by operators and by compliance;
anyone else gets 404, as if it did not exist. An output is downloaded only once released: a
withheld one answers 409 with the moderation's reason, and its pixels were never stored.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses as _errors
from core.api import query_filters
from core.api.permissions import HasRole
from core.roles import Role
from generation.api import serializers as s
from generation.models import GenerationJob
from generation.selectors import batch_get, job_get, output_file, output_get
from generation.services.batches import generation_batch_request
from generation.services.requests import generation_cancel, generation_request

# Who may read jobs at all; which jobs each sees is GenerationJob.objects.visible_to.
JOB_READERS = (Role.PRODUCT, Role.OPERATOR, Role.COMPLIANCE)


class JobListCreateView(generics.ListAPIView):
    serializer_class = s.JobSerializer

    def get_permissions(self):
        roles = (Role.PRODUCT,) if self.request.method == "POST" else JOB_READERS
        return [HasRole(*roles)()]

    def get_queryset(self) -> QuerySet[GenerationJob]:
        wanted = query_filters(s.JobFilterSerializer, self.request)
        jobs = GenerationJob.objects.visible_to(self.request.user).select_related("requester", "output")
        if "status" in wanted:
            jobs = jobs.filter(status=wanted["status"])
        return jobs.order_by("-created_at", "id")

    @extend_schema(parameters=[s.JobFilterSerializer], responses={200: s.JobSerializer(many=True), **_errors(400)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": s.JobCreateSerializer, "application/json": s.JobCreateSerializer},
        responses={202: OpenApiResponse(s.JobSerializer, description="queued on the gpu queue"), **_errors(400, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        serializer = s.JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = generation_request(
            model_id=data["model"],
            kind=data["kind"],
            parameters=serializer.parameters(),
            seed=data.get("seed"),
            image=data["image"].read() if data.get("image") else None,
            mask=data["mask"].read() if data.get("mask") else None,
            actor=request.user,
        )
        response = Response(s.JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = f"/api/v1/generation/jobs/{job.pk}/"
        return response


class JobDetailView(APIView):
    permission_classes = [HasRole(*JOB_READERS)]

    @extend_schema(responses={200: s.JobSerializer, **_errors(403, 404)})
    def get(self, request: Request, pk: str) -> Response:
        return Response(s.JobSerializer(job_get(job_id=pk, user=request.user)).data)


class JobCancelView(APIView):
    """Cancel a queued or running job: its requester or an operator."""

    permission_classes = [HasRole(Role.PRODUCT, Role.OPERATOR)]

    @extend_schema(request=None, responses={200: s.JobSerializer, **_errors(403, 404, 409)})
    def post(self, request: Request, pk: str) -> Response:
        job = job_get(job_id=pk, user=request.user)
        return Response(s.JobSerializer(generation_cancel(job_id=job.pk, actor=request.user)).data)


class OutputDetailView(APIView):
    permission_classes = [HasRole(*JOB_READERS)]

    @extend_schema(responses={200: s.OutputSerializer, **_errors(403, 404)})
    def get(self, request: Request, pk: str) -> Response:
        return Response(s.OutputSerializer(output_get(output_id=pk, user=request.user)).data)


class OutputDownloadView(APIView):
    """The released output: a PNG whose C2PA manifest carries its provenance."""

    permission_classes = [HasRole(*JOB_READERS)]

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # The file is a PNG whatever the client says it accepts (`Accept: image/png` must not
        # be a 406); errors are JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="the signed PNG"),
            **_errors(403, 404, 409),
        }
    )
    def get(self, request: Request, pk: str) -> HttpResponse:
        output = output_get(output_id=pk, user=request.user)
        data = output_file(output)
        response = HttpResponse(data, content_type=output.mime_type)
        response["Content-Disposition"] = f'attachment; filename="{output.pk}.png"'
        response["ETag"] = f'"{output.sha256}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


class BatchCreateView(APIView):
    """One request, many prompts: one job per prompt, run in order by one `gpu` task."""

    permission_classes = [HasRole(Role.PRODUCT)]

    @extend_schema(
        request=s.BatchCreateSerializer,
        responses={202: OpenApiResponse(s.BatchSerializer, description="queued on the gpu queue"), **_errors(400, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        serializer = s.BatchCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        batch = generation_batch_request(
            model_id=data["model"],
            prompts=data["prompts"],
            parameters=serializer.parameters(),
            seed=data.get("seed"),
            actor=request.user,
        )
        batch = batch_get(batch_id=batch.pk, user=request.user)
        response = Response(s.BatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = f"/api/v1/generation/batches/{batch.pk}/"
        return response


class BatchDetailView(APIView):
    permission_classes = [HasRole(*JOB_READERS)]

    @extend_schema(responses={200: s.BatchSerializer, **_errors(403, 404)})
    def get(self, request: Request, pk: str) -> Response:
        return Response(s.BatchSerializer(batch_get(batch_id=pk, user=request.user)).data)
