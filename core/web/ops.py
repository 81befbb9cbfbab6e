"""Probes and metrics for the orchestrator and Prometheus: GET /healthz, /readyz, /metrics.

They answer machines, not people: no login, no session, no redirect to HTTPS (the kubelet and
Prometheus speak plain HTTP to the pod), no rate limit."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core.client_ip import client_address
from core.health import alive_report, ready_report
from core.metrics import metrics_text


# Public on purpose: "is the process up" tells nothing about the platform's data.
@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse(alive_report().as_dict())


# Public on purpose: it names which dependency failed (database, broker, blobs), never a secret.
@login_not_required
@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    report = ready_report()
    return JsonResponse(report.as_dict(), status=200 if report.ok else 503)


def metrics_allowed(request: HttpRequest) -> bool:
    """With CLEANROOM_METRICS_TOKEN set: its bearer token only. Without: loopback clients only."""
    token = settings.CLEANROOM_METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    try:
        return ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        return False


# Guarded by metrics_allowed (a bearer token, or loopback), not by a user's role: Prometheus has
# no account.
@login_not_required
@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse("metrics need the bearer token\n", status=403, content_type="text/plain")
    body, content_type = metrics_text()
    return HttpResponse(body, content_type=content_type)
