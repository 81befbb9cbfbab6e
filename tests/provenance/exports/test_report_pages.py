"""/reports/ through Django's test client: compliance only; approved and tainted snapshots with
a link per built format and words for the others; a small CSV or JSON downloads at once, and any
export may be prepared in the background and downloaded from its job's page."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid

import pytest
from django.test import Client

from core.background import background_run
from core.models import BackgroundJob
from provenance.services.consent import consent_revoke
from tests.core.factories import user_with_role
from tests.support.pages import client

pytestmark = pytest.mark.django_db


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_only_compliance_opens_the_reports(approved, compliance, reviewer, operator):
    assert client(None).get("/reports/").status_code == 302
    assert client(reviewer).get("/reports/").status_code == 403
    assert client(operator).get("/reports/").status_code == 403
    assert client(compliance).get("/reports/").status_code == 200


def test_each_approved_snapshot_has_a_link_per_built_format_and_words_for_the_others(approved, in_review, compliance):
    page = client(compliance).get("/reports/").content.decode()
    assert str(approved.pk)[:8] in page and str(in_review.pk)[:8] not in page, "only approved and tainted snapshots"
    assert f'href="/reports/{approved.pk}/csv/"' in page and f'href="/reports/{approved.pk}/json/"' in page
    for name in ("pdf", "croissant", "pack"):
        assert f'href="/reports/{approved.pk}/{name}/"' in page
    assert "not available yet" not in page, "every format of the contract is built"


def test_a_small_snapshot_downloads_its_csv_at_once(approved, compliance):
    response = client(compliance).get(f"/reports/{approved.pk}/csv/")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="cleanroom-snapshot-{approved.pk}.csv"'
    data = body(response)
    assert response["Digest"] == f"sha-256={hashlib.sha256(data).hexdigest()}"
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert [int(row["leaf_index"]) for row in rows if row["record"] == "member"] == list(range(6))
    assert not BackgroundJob.objects.exists()


def test_a_large_snapshot_offers_to_prepare_the_file_and_its_job_page_offers_the_download(approved, compliance, monkeypatch):
    monkeypatch.setattr("provenance.report_views.DIRECT_MAX", 5)  # this snapshot has 6 images
    web = client(compliance)
    page = web.get(f"/reports/{approved.pk}/json/")
    assert page.status_code == 200 and b"Prepare the JSON" in page.content and not BackgroundJob.objects.exists()

    started = web.post(f"/reports/{approved.pk}/json/")
    job = BackgroundJob.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/tasks/{job.pk}/"
    assert web.get(f"/reports/downloads/{job.pk}/")["Location"] == f"/tasks/{job.pk}/", "not written yet: its page"
    background_run(job.pk)
    task_page = web.get(f"/tasks/{job.pk}/").content.decode()
    link = re.search(r'href="(/reports/downloads/[^"]+)"', task_page)
    assert link and "Download the JSON" in task_page and "missing from the blob store" in task_page
    download = web.get(link.group(1))
    document = json.loads(body(download))
    assert download["Content-Disposition"].startswith("attachment;") and document["snapshot"]["snapshot_id"] == str(approved.pk)
    with_htmx = web.post(f"/reports/{approved.pk}/json/", HTTP_HX_REQUEST="true")
    assert with_htmx["HX-Redirect"].startswith("/tasks/")


def test_only_the_requester_downloads_a_prepared_export(approved, compliance):
    web = client(compliance)
    web.post(f"/reports/{approved.pk}/csv/")
    job = BackgroundJob.objects.get()
    background_run(job.pk)
    other = Client()
    other.force_login(user_with_role("cole", "compliance"))
    assert other.get(f"/reports/downloads/{job.pk}/").status_code == 404
    assert web.get(f"/reports/downloads/{uuid.uuid4()}/").status_code == 404


def test_a_tainted_snapshot_is_listed_as_tainted_with_its_reason_and_still_exports(approved, compliance, operator):
    web = client(compliance)
    consent_id = next(row for row in csv.DictReader(io.StringIO(body(web.get(f"/reports/{approved.pk}/csv/")).decode())))[
        "consent_id"
    ]
    consent_revoke(consent_id=consent_id, actor=operator, reason="the contributor withdrew")
    page = web.get("/reports/").content.decode()
    assert "TAINTED" in page and "reports__row--tainted" in page
    rows = list(csv.DictReader(io.StringIO(body(web.get(f"/reports/{approved.pk}/csv/")).decode())))
    assert {row["snapshot_status"] for row in rows} == {"TAINTED"}


def test_bad_addresses_answer_404_never_500(approved, compliance, unbuilt_pdf):
    web = client(compliance)
    assert web.get(f"/reports/{approved.pk}/docx/").status_code == 404
    assert web.get(f"/reports/{uuid.uuid4()}/csv/").status_code == 404
    unavailable = web.get(f"/reports/{approved.pk}/pdf/")
    assert unavailable.status_code == 200 and b"not available yet" in unavailable.content
    refused = web.post(f"/reports/{approved.pk}/pdf/")
    assert refused.status_code == 409 and b"not available yet" in refused.content
    assert not BackgroundJob.objects.exists()
    assert web.get("/reports/?after=garbage").status_code == 400
