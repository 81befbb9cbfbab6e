"""Exports over REST: compliance starts one (202, a background job), follows it, and downloads
the file; nobody else sees it."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid

import pytest

from core.background import background_run
from core.models import BackgroundJob

pytestmark = pytest.mark.django_db


def start(client, snapshot, fmt: str = "csv"):
    return client.post(f"/api/v1/snapshots/{snapshot.pk}/exports/", {"format": fmt}, format="json")


def test_compliance_exports_a_snapshot_and_downloads_the_file(approved, client_for, compliance):
    cora = client_for(compliance)
    started = start(cora, approved)
    assert started.status_code == 202, started.content
    job = started.json()
    assert (job["status"], job["format"], job["subject_id"], job["total"]) == ("queued", "csv", str(approved.pk), 6)
    assert job["download"] is None and started["Location"] == job["url"]
    assert cora.get(f"/api/v1/exports/{job['id']}/file/").json()["code"] == "export_not_ready"

    background_run(job["id"])
    done = cora.get(job["url"]).json()
    assert done["status"] == "succeeded" and done["done"] == 6 and done["result"]["warnings"]
    download = cora.get(done["download"])
    assert download.status_code == 200 and download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == f'attachment; filename="cleanroom-snapshot-{approved.pk}.csv"'
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == done["result"]["sha256"]
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert sum(row["record"] == "member" for row in rows) == 6


def test_an_unknown_or_unavailable_format_is_refused_and_starts_nothing(approved, client_for, compliance, unbuilt_pdf):
    cora = client_for(compliance)
    unknown = start(cora, approved, "docx")
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_format"
    later = start(cora, approved, "pdf")
    assert later.status_code == 409 and later.json()["code"] == "format_unavailable"
    assert not BackgroundJob.objects.exists()


def test_an_unknown_snapshot_is_404(client_for, compliance):
    missing = client_for(compliance).post(f"/api/v1/snapshots/{uuid.uuid4()}/exports/", {"format": "csv"}, format="json")
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_snapshot"


def test_only_compliance_may_export_and_only_the_requester_sees_the_job(approved, client_for, compliance, reviewer):
    assert start(client_for(reviewer), approved).status_code == 403
    job = start(client_for(compliance), approved).json()
    background_run(job["id"])
    assert client_for(reviewer).get(job["url"]).status_code == 403
    assert client_for(None).get(job["download"] if job["download"] else job["url"] + "file/").status_code == 401


def test_a_failed_export_says_why(approved, client_for, compliance, settings):
    cora = client_for(compliance)
    job = start(cora, approved).json()
    settings.DATA_DIR = "/proc/cleanroom"  # nowhere to write
    background_run(job["id"])
    failed = cora.get(job["url"]).json()
    assert failed["status"] == "failed" and failed["download"] is None
    refused = cora.get(f"/api/v1/exports/{job['id']}/file/")
    assert refused.status_code == 409 and "failed" in refused.json()["error"]
