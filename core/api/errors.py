"""Every error the API answers, in the one shape the schema declares: `{error, code, ...}`.

`error` is a sentence for a person, `code` a stable slug for a program. Besides the
`ApplicationError`s of the services, this covers what DRF itself refuses (credentials, roles,
parse errors, field validation, methods, body types, throttles), which DRF would answer as
`{detail}` or `{<field>: [...]}`, and Django's request limits, which Django would answer with
an HTML page. The statuses stay DRF's and Django's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import ApplicationError

# The code of a body whose fields failed validation; each field's messages are under `fields`.
INVALID = "invalid"


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
            f"the request body, apart from its files, is larger than {limit} bytes", code="too_large", status=413
        )
    return None


def _messages_by_path(detail: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, message) for each message of a DRF error detail, nested serializers and list
    items named by dotted paths (`document.scopes.1`)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _messages_by_path(value, f"{path}.{key}" if path else str(key))
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                yield from _messages_by_path(value, f"{path}.{index}" if path else str(index))
            else:
                yield path, str(value)
    else:
        yield path, str(detail)


def _field_errors(detail: Any) -> dict[str, list[str]]:
    """A validation error's messages by field path; those of no one field under
    `non_field_errors` (DRF's NON_FIELD_ERRORS_KEY)."""
    non_field = api_settings.NON_FIELD_ERRORS_KEY
    fields: dict[str, list[str]] = {}
    for path, message in _messages_by_path(detail):
        fields.setdefault(path or non_field, []).append(message)
    return fields


def _validation_body(detail: Any) -> dict[str, Any]:
    fields = _field_errors(detail)
    non_field = api_settings.NON_FIELD_ERRORS_KEY
    sentences = [
        message if path == non_field else f"{path}: {message}" for path, messages in fields.items() for message in messages
    ]
    error = sentences[0] if sentences else "the request is invalid"
    if len(sentences) > 1:
        error += f" (and {len(sentences) - 1} more)"
    return {"error": error, "code": INVALID, "fields": fields}


def _drf_body(exc: Exception, data: Any, response: Response) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return _validation_body(data)
    detail = data.get("detail") if isinstance(data, dict) else None
    if detail is None:  # an APIException raised with a dict or a list of messages
        return {**_validation_body(data), "code": getattr(exc, "default_code", "error")}
    # ErrorDetail keeps the exception's code: `not_authenticated`, `permission_denied`, ...
    body: dict[str, Any] = {"error": str(detail), "code": getattr(detail, "code", None) or "error"}
    if isinstance(exc, exceptions.Throttled) and response.has_header("Retry-After"):
        body["retry_after"] = int(response["Retry-After"])
    return body


def _application_error_response(exc: ApplicationError) -> Response:
    headers = dict(exc.headers or {})
    if "retry_after" in exc.extra:
        headers.setdefault("Retry-After", str(exc.extra["retry_after"]))
    return Response({"error": exc.message, "code": exc.code, **exc.extra}, status=exc.status, headers=headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _request_limit_error(exc) or exc
    if isinstance(exc, ApplicationError):
        return _application_error_response(exc)
    # DRF's handler turns Django's Http404 and PermissionDenied into its own, sets the headers
    # (WWW-Authenticate, Retry-After) and rolls back the request's atomic block: only the body
    # changes shape.
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django answers 500 (core/views.py:server_error)
    response.data = _drf_body(exc, response.data, response)
    return response
