"""Provenance's figures for GET /metrics (core/metrics.py), read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from core.metrics import count_by
from provenance.models import Asset, IngestItem


def provenance_metrics() -> Iterator[Metric]:
    yield count_by(Asset.objects.all(), "status", "cleanroom_assets", "Assets by status.", "status")
    # Every refused file is an IngestItem row (CLI, API and portal ingest alike), with its reason.
    yield count_by(
        IngestItem.objects.filter(accepted=False),
        "reason",
        "cleanroom_ingest_refusals",
        "Files refused at ingest since the platform began, by reason.",
        "reason",
    )
