"""GET /metrics: Prometheus text with the request histogram and Cleanroom's own figures, read
from the database and the broker at scrape time; open to loopback, or to a bearer token."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from config.celery import app
from tests.provenance.factories import ingest, jpeg

pytestmark = pytest.mark.django_db


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _scrape(**headers: str) -> dict:
    response = Client().get("/metrics", **headers)
    assert response.status_code == 200, response.content
    return _samples(response.content.decode())


def test_metrics_count_assets_by_status_and_refused_files_by_reason(world, contributor):
    ingest(contributor, world.dataset, world.consent, SimpleUploadedFile("notes.jpg", b"not an image"), jpeg("carla.jpg", seed=1))

    samples = _scrape()

    assert samples[("cleanroom_assets", (("status", world.asset.status),))] == 1
    assert samples[("cleanroom_ingest_refusals", (("reason", "invalid_image"),))] == 1
    assert samples[("cleanroom_ingest_refusals", (("reason", "duplicate"),))] == 1


def test_metrics_count_messages_waiting_on_each_queue():
    app.send_task("core.reconcile", queue="audit")
    app.send_task("core.reconcile", queue="audit")

    samples = _scrape()

    assert samples[("cleanroom_queue_depth", (("queue", "audit"),))] == 2
    assert samples[("cleanroom_queue_depth", (("queue", "default"),))] == 0


def test_metrics_record_each_request_by_view_method_and_status():
    Client().get("/healthz")

    samples = _scrape()

    key = ("cleanroom_http_request_duration_seconds_count", (("method", "GET"), ("status", "200"), ("view", "healthz")))
    assert samples[key] >= 1


def test_metrics_refuse_a_client_that_is_not_on_loopback_when_no_token_is_set():
    response = Client(REMOTE_ADDR="203.0.113.9").get("/metrics")

    assert response.status_code == 403


def test_metrics_with_a_token_set_need_it_even_from_loopback(settings):
    settings.CLEANROOM_METRICS_TOKEN = "s3cret-scrape-token"

    assert Client().get("/metrics").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    remote = Client(REMOTE_ADDR="203.0.113.9")
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200
