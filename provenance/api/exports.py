"""Report exports over REST (compliance only): start one as a background job, follow it, and
download its file once written. The work and the rules are in provenance.exports."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses as _errors
from core.api import visible_or_404 as _visible
from core.api.permissions import HasRole
from core.background import background_job_for
from core.exceptions import NotFound
from core.models import BackgroundJob
from provenance.exports.formats import MODEL, SNAPSHOT, Subject, export_formats
from provenance.exports.jobs import EXPORT_KIND, EXPORTERS, export_file, export_start
from provenance.models import Snapshot


class ExportRequestSerializer(serializers.Serializer):
    format = serializers.CharField(max_length=32, help_text="an export format of the subject, e.g. csv or json")


class ExportJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField(help_text="queued, running, succeeded or failed")
    status_reason = serializers.CharField(help_text="why it failed, in words")
    subject = serializers.CharField()
    subject_id = serializers.CharField()
    format = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField(allow_null=True)
    result = serializers.JSONField(allow_null=True, help_text="name, sha256, size and warnings once written")
    url = serializers.CharField(help_text="this job")
    download = serializers.CharField(allow_null=True, help_text="the file, once written")


def export_job_document(job: BackgroundJob) -> dict[str, Any]:
    return {
        "id": str(job.pk),
        "status": job.status,
        "status_reason": job.status_reason,
        "subject": job.params["subject"],
        "subject_id": job.params["subject_id"],
        "format": job.params["format"],
        "done": job.done,
        "total": job.total,
        "result": job.result,
        "url": reverse("api:export", args=[job.pk]),
        "download": reverse("api:export-file", args=[job.pk]) if job.status == "succeeded" else None,
    }


def export_started(request: Request, subject: Subject, subject_id: str) -> Response:
    """The POST of both subjects: validate the format's name, start the job, answer 202."""
    data = ExportRequestSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    job = export_start(subject=subject, subject_id=subject_id, format_name=data.validated_data["format"], actor=request.user)
    return Response(
        export_job_document(job), status=status.HTTP_202_ACCEPTED, headers={"Location": export_job_document(job)["url"]}
    )


def _format_names(subject: Subject) -> str:
    return ", ".join(f.name + ("" if f.available else " (not available yet)") for f in export_formats(subject))


class SnapshotExportView(APIView):
    permission_classes = [HasRole(*EXPORTERS)]

    @extend_schema(
        request=ExportRequestSerializer,
        responses={202: ExportJobSerializer, **_errors(400, 403, 404, 409)},
        description=f"Export the snapshot's report in a background job. Formats: {_format_names(SNAPSHOT)}.",
    )
    def post(self, request: Request, pk: str) -> Response:
        snapshot = _visible(Snapshot.objects.visible_to(request.user), "snapshot", pk=pk)
        return export_started(request, SNAPSHOT, str(snapshot.pk))


class ExportJobView(APIView):
    """An export job, to the person who started it (404 to anyone else)."""

    permission_classes = [HasRole(*EXPORTERS)]

    @extend_schema(responses={200: ExportJobSerializer, **_errors(403, 404)})
    def get(self, request: Request, pk: str) -> Response:
        job = background_job_for(job_id=pk, viewer=request.user)
        if job is None or job.kind != EXPORT_KIND:
            raise NotFound(f"no export {pk} of yours", code="unknown_export")
        return Response(export_job_document(job))


def _content_types() -> list[str]:
    """Every format's media type (without parameters), for the schema of the download."""
    subjects: tuple[Subject, ...] = (SNAPSHOT, MODEL)
    names = {f.content_type.split(";")[0] for subject in subjects for f in export_formats(subject)}
    return sorted(names)


class ExportFileView(APIView):
    """The written file, as an attachment, to the person who asked for it."""

    permission_classes = [HasRole(*EXPORTERS)]

    @extend_schema(
        responses={
            **{
                (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description="the export file")
                for content_type in _content_types()
            },
            **_errors(403, 404, 409),
        }
    )
    def get(self, request: Request, pk: str) -> FileResponse:
        found = export_file(job_id=pk, viewer=request.user)
        response = FileResponse(found.path.open("rb"), as_attachment=True, filename=found.name, content_type=found.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Digest"] = f"sha-256={found.sha256}"
        return response
