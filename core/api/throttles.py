"""The API's rate limits: DRF's scoped throttle, counted per client as core/client_ip.py sees it.

DRF's own `get_ident` took the whole `X-Forwarded-For` header as the client when no proxy count
was set, so a client that changed the header on every request was never throttled. The counts
live in the shared cache (`CACHES`), so every web process sees the same ones.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle

from core.client_ip import client_identity


class ClientScopedRateThrottle(ScopedRateThrottle):
    """Per user when authenticated (DRF's rule), else per client address; the rate is the
    view's `throttle_scope` in `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`."""

    def get_ident(self, request: Request) -> str:
        return client_identity(request)
