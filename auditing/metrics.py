"""Auditing's figures for GET /metrics (core/metrics.py), read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from auditing.models import AuditRun, Finding
from core.metrics import count_by, durations


def auditing_metrics() -> Iterator[Metric]:
    yield count_by(Finding.objects.all(), "status", "cleanroom_findings", "Findings by status.", "status")
    yield durations(AuditRun.objects.all(), "cleanroom_audit_run_seconds", "Finished audit runs: count and total seconds.")
