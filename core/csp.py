"""The Content-Security-Policy header, on every response.

Django has no CSP of its own before 6.0, whose `SECURE_CSP` setting (a dict of directive to
sources) this middleware reads in the same form, so moving to Django's
`django.middleware.csp.ContentSecurityPolicyMiddleware` is a change of middleware alone. A
response that already carries the header keeps it: that is how a view would give itself a policy
of its own. No page needs one today; scripts and styles come only from this server's files, never
inline (the API docs too: `core/api/views.py:DocsView`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def csp_header_value(directives: Mapping[str, Sequence[str]]) -> str:
    """`{"default-src": ["'self'"], ...}` as the header's value: `default-src 'self'; ...`."""
    return "; ".join(" ".join([directive, *sources]) for directive, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.SECURE_CSP and HEADER not in response:
            response[HEADER] = csp_header_value(settings.SECURE_CSP)
        return response
