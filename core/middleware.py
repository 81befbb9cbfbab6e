"""Request-wide limits applied before any view or parser reads the body."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.views import is_api_request


class RequestSizeLimitMiddleware:
    """Refuses a request larger than CLEANROOM_UPLOAD_MAX_REQUEST_BYTES with 413 `too_large`,
    before its body is read. The declared length is enough: a WSGI server never hands the
    application more than CONTENT_LENGTH bytes. Its files' sizes are limited one by one by ingest
    (CLEANROOM_MAX_FILE_BYTES); this caps what one request can make the server write to disk."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.CLEANROOM_UPLOAD_MAX_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads no body then
        if limit and length > limit:
            message = (
                f"the request is {length} bytes; the server accepts at most {limit} bytes in one request: "
                "send the files in several requests"
            )
            if is_api_request(request):
                return JsonResponse({"error": message, "code": "too_large", "max_request_bytes": limit}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
