"""Training's figures for GET /metrics (core/metrics.py), read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from core.metrics import durations
from training.models import TrainingRun


def training_metrics() -> Iterator[Metric]:
    yield durations(
        TrainingRun.objects.all(), "cleanroom_training_run_seconds", "Finished training runs: count and total seconds."
    )
