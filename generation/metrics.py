"""Generation's figures for GET /metrics (core/metrics.py), read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from django.db.models.fields.json import KT
from prometheus_client.core import GaugeMetricFamily, Metric

from core.metrics import durations
from generation.models import GenerationJob, Verification, VerificationStatus


def generation_metrics() -> Iterator[Metric]:
    yield durations(
        GenerationJob.objects.all(), "cleanroom_generation_job_seconds", "Finished generation jobs: count and total seconds."
    )
    # A finished verification's outcome is its verdict word (Trusted, Recovered, Unknown, …);
    # a failed one counts as `failed`, one still waiting as `pending`.
    outcomes = GaugeMetricFamily("cleanroom_verifications", "Verify requests by outcome.", labels=["outcome"])
    done = (
        Verification.objects.filter(status=VerificationStatus.DONE)
        .order_by()
        .values(word=KT("verdict__verdict"))
        .annotate(n=Count("pk"))
    )
    for row in done:
        outcomes.add_metric([row["word"] or "none"], row["n"])
    failed = Verification.objects.filter(status=VerificationStatus.FAILED).count()
    pending = Verification.objects.exclude(status__in=[VerificationStatus.DONE, VerificationStatus.FAILED]).count()
    outcomes.add_metric(["failed"], failed)
    outcomes.add_metric(["pending"], pending)
    yield outcomes
