"""Prometheus metrics: request latency measured in the web process, and Cleanroom's own figures
read from the database (and the broker) at scrape time, so they are right whichever process did
the work.

Under gunicorn, each worker process keeps its own request histogram; `cleanroom web` sets
PROMETHEUS_MULTIPROC_DIR to a private folder before gunicorn starts, and a scrape then adds up
every worker's files (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, DurationField, ExpressionWrapper, F, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

QUEUES = ("default", "audit", "gpu")
BROKER_TIMEOUT_SECONDS = 2.0

REQUEST_LATENCY = Histogram(
    "cleanroom_http_request_duration_seconds",
    "Time from a request reaching Django to its response, by view, method and status.",
    ["view", "method", "status"],
)


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        # The route's name, never the raw path: ids in paths would make a series per object.
        view = (match.view_name or match._func_path) if match else "unmatched"
        REQUEST_LATENCY.labels(view, request.method or "", str(response.status_code)).observe(time.perf_counter() - started)
        return response


def queue_depths() -> dict[str, int]:
    """Messages waiting on each of the platform's queues (prefixed as the settings say)."""
    names = {queue: f"{settings.CLEANROOM_QUEUE_PREFIX}{queue}" for queue in QUEUES}
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        return {queue: sum(1 for _ in folder.glob(f"*.{name}.msg")) for queue, name in names.items()}
    from kombu import Connection

    depths = {}
    with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
        if url.startswith(("redis://", "rediss://")):
            client = conn.default_channel.client
            return {queue: int(client.llen(name)) for queue, name in names.items()}
        channel = conn.default_channel
        for queue, name in names.items():
            try:
                depths[queue] = channel.queue_declare(queue=name, passive=True).message_count
            except Exception:  # a queue no worker has declared yet holds nothing
                channel = conn.channel()
                depths[queue] = 0
    return depths


def _broker_metrics() -> Iterator[Metric]:
    depth = GaugeMetricFamily("cleanroom_queue_depth", "Messages waiting on each Celery queue.", labels=["queue"])
    up = GaugeMetricFamily("cleanroom_broker_up", "1 when the broker answered this scrape.")
    try:
        depths = queue_depths()
    except Exception:
        up.add_metric([], 0)
    else:
        up.add_metric([], 1)
        for queue, count in depths.items():
            depth.add_metric([queue], count)
    yield up
    yield depth


class CleanroomCollector(Collector):
    """The apps' figures (settings.CLEANROOM_METRICS_SOURCES: dotted paths of functions that
    yield metric families) and the queues' depths, computed on each scrape."""

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "cleanroom_metrics_source_up", "1 when the source's figures were read this scrape.", labels=["source"]
        )
        for path in settings.CLEANROOM_METRICS_SOURCES:
            # A database that is down must not hide the request metrics: that source reads 0.
            try:
                families = list(import_string(path)())
            except DatabaseError:
                up.add_metric([path], 0)
                continue
            up.add_metric([path], 1)
            yield from families
        yield up
        yield from _broker_metrics()


def metrics_text() -> tuple[bytes, str]:
    """The whole exposition, and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
    registry.register(CleanroomCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Forward(Collector):
    """This process's own metrics (the default registry), inside a per-scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


# --- Helpers for the apps' metric sources ----------------------------------------------------------
def count_by(queryset: QuerySet, field: str, name: str, documentation: str, label: str) -> GaugeMetricFamily:
    """A gauge with one series per value of `field` (rows counted in the database)."""
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for row in queryset.order_by().values(field).annotate(n=Count("pk")):
        family.add_metric([str(row[field] or "")], row["n"])
    return family


def durations(queryset: QuerySet, name: str, documentation: str, label: str = "status") -> SummaryMetricFamily:
    """Count and total seconds of finished work (finished_at − started_at), by status."""
    family = SummaryMetricFamily(name, documentation, labels=[label])
    elapsed = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    rows = (
        queryset.filter(started_at__isnull=False, finished_at__isnull=False)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"), total=Sum(elapsed))
    )
    for row in rows:
        total = row["total"].total_seconds() if row["total"] is not None else 0.0
        family.add_metric([row["status"]], count_value=row["n"], sum_value=total)
    return family
