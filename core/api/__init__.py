"""What every app's REST views share: ApplicationError as a JSON answer, the error shape in the
schema, and the one rule for objects a caller may not see (404, as if absent)."""

from __future__ import annotations

from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiResponse
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.api.serializers import ErrorSerializer
from core.exceptions import ApplicationError, NotFound

M = TypeVar("M", bound=Model)


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="malformed request or refused by a rule"),
    403: OpenApiResponse(ErrorSerializer, description="the caller lacks the role"),
    404: OpenApiResponse(ErrorSerializer, description="no such object visible to the caller"),
    409: OpenApiResponse(ErrorSerializer, description="conflicts with the object's state"),
    413: OpenApiResponse(ErrorSerializer, description="the upload is larger than the server accepts"),
    429: OpenApiResponse(ErrorSerializer, description="too many failed log-ins: locked for a while (Retry-After)"),
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


def visible_or_404(queryset: QuerySet[M], what: str, **lookup: Any) -> M:
    """The object if the caller may see it; the same 404 whether it is hidden or absent."""
    found = queryset.filter(**lookup).first()
    if found is None:
        raise NotFound(f"no {what} {next(iter(lookup.values()))}", code=f"unknown_{what}")
    return found


def _request_limit_error(exc: Exception) -> ApplicationError | None:
    """Django's request-size limits, which it would answer with its HTML 400 page."""
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return ApplicationError(
            f"an upload may hold at most {limit} files; send the rest in another request, or as a ZIP archive",
            code="too_many_files",
            extra={"max_files": limit},
        )
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return ApplicationError(f"a request may hold at most {limit} fields", code="too_many_fields", extra={"max_fields": limit})
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return ApplicationError(
            f"the request, apart from its files, is larger than the server accepts ({limit} bytes)",
            code="too_large",
            status=413,
        )
    return None


def exception_handler(exc, context):
    exc = _request_limit_error(exc) or exc
    if isinstance(exc, ApplicationError):
        response = Response({"error": exc.message, "code": exc.code, **exc.extra}, status=exc.status)
        if "retry_after" in exc.extra:
            response["Retry-After"] = str(exc.extra["retry_after"])
        return response
    return drf_exception_handler(exc, context)
