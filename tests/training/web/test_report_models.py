"""Trained models on the Reports page: each with its JSON, PDF and EU summary, through the same
exports as the command line and the API."""

from __future__ import annotations

import json

import pytest

from core.background import background_run
from core.models import BackgroundJob
from provenance.services.consent import consent_revoke
from tests.support.pages import client

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(cpu_model_world, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"  # background exports are written under it
    return cpu_model_world


def test_each_trained_model_is_listed_with_a_link_per_model_report(model, compliance):
    page = client(compliance).get("/reports/").content.decode()

    assert "Trained models" in page
    for name in ("json", "pdf", "eu-summary"):
        assert f'href="/reports/models/{model.model.pk}/{name}/"' in page
    assert f'href="/snapshots/{model.snapshot.pk}/"' in page


def test_a_models_json_downloads_at_once(model, compliance):
    response = client(compliance).get(f"/reports/models/{model.model.pk}/json/")

    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    document = json.loads(b"".join(response.streaming_content))
    assert str(model.model.pk) in json.dumps(document) and model.snapshot.merkle_root in json.dumps(document)


def test_the_eu_summary_is_prepared_in_the_background_and_offered_when_written(model, compliance):
    web = client(compliance)
    page = web.get(f"/reports/models/{model.model.pk}/eu-summary/").content.decode()
    assert "Prepare the EU training-content summary" in page

    started = web.post(f"/reports/models/{model.model.pk}/eu-summary/")

    job = BackgroundJob.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/tasks/{job.pk}/"
    assert background_run(job.pk).status == "succeeded"
    download = web.get(f"/reports/downloads/{job.pk}/")
    text = b"".join(download.streaming_content).decode()
    assert download.status_code == 200 and "53(1)(d)" in text


def test_a_model_trained_on_a_tainted_snapshot_says_so(model, compliance, operator):
    consent_revoke(consent_id=model.consent_id, actor=operator, reason="the contributor withdrew")

    listed = client(compliance).get("/reports/").content.decode()
    page = client(compliance).get(f"/reports/models/{model.model.pk}/pdf/").content.decode()

    assert "TAINTED" in listed
    assert "TAINTED" in page and "the contributor withdrew" in page


@pytest.mark.parametrize("path", ["/reports/models/{model}/docx/", "/reports/models/00000000-0000-0000-0000-000000000000/json/"])
def test_a_bad_model_address_is_a_friendly_404(path, model, compliance):
    response = client(compliance).get(path.format(model=model.model.pk))

    assert response.status_code == 404 and b"<nav" in response.content
