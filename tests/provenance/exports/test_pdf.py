"""The PDF report of a snapshot, written through the export service and read back with pypdf:
it opens, says what the records say (Merkle root, approvers, one row per member), says TAINTED
on every page of a tainted snapshot, and two exports of one snapshot are the same bytes."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pypdf import PdfReader

from core.background import background_run
from core.models import BackgroundJob
from provenance.exports.service import export_write
from provenance.services.assets import asset_review
from provenance.services.consent import consent_revoke
from provenance.services.datasets import dataset_create
from provenance.services.snapshots import snapshot_create
from tests.provenance.factories import grant_consent, image_bytes, ingest
from tests.support.report_worlds import DISMISSAL_REASON

pytestmark = pytest.mark.django_db
SHOTS = os.environ.get("PDF_SHOTS")  # a folder: the pages are also rendered there as PNG (to look at)


def exported(snapshot, output: Path) -> bytes:
    export_write(subject="snapshot", subject_id=str(snapshot.pk), format_name="pdf", output=output)
    data = output.read_bytes()
    if SHOTS and shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "100", str(output), f"{SHOTS}/{output.stem}"], check=True)
    return data


def pages_text(data: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def test_the_report_opens_and_holds_the_root_the_approvers_and_every_record(approved, out):
    data = exported(approved, out / "snapshot.pdf")
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(pages_text(data))
    flat = text.replace(" ", "").replace("\n", "")  # hashes wrap across lines
    assert approved.merkle_root in flat
    assert "rita" in text and "ravi" in text
    members = list(approved.members.order_by("index").values_list("asset_sha256", flat=True))
    assert all(sha256 in flat for sha256 in members), "one row per member, with its sha256"
    assert DISMISSAL_REASON in text, "the reviewer's decision on the audit finding, with the reason"
    assert "TAINTED" not in text
    assert reader.metadata.creation_date is not None and reader.metadata.producer.startswith("WeasyPrint")


def test_two_exports_of_one_snapshot_are_the_same_bytes_with_the_snapshots_own_dates(approved, out):
    first = exported(approved, out / "first.pdf")
    second = exported(approved, out / "second.pdf")
    assert first == second
    metadata = PdfReader(io.BytesIO(first)).metadata
    assert metadata.creation_date.date() == approved.created_at.date()
    assert b"/ID [" in first, "a file identifier, derived from the snapshot (not random)"


def test_a_tainted_snapshot_says_tainted_on_every_page_with_the_revocation(approved, operator, out):
    before = exported(approved, out / "before.pdf")
    consent_id = str(approved.members.order_by("index").values_list("consent_id", flat=True).first())
    consent_revoke(consent_id=consent_id, actor=operator, reason="the contributor withdrew")

    after = exported(approved, out / "tainted.pdf")
    assert after != before
    pages = pages_text(after)
    assert len(pages) > 3
    assert all("TAINTED" in page for page in pages), [i for i, page in enumerate(pages) if "TAINTED" not in page]
    assert all(consent_id[:8] in page for page in pages), "every page names the revoked consent"
    text = "\n".join(pages)
    assert "the contributor withdrew" in text and consent_id in text.replace(" ", "")


def test_the_table_and_contact_sheet_are_capped_and_say_so(approved, out, settings, monkeypatch):
    monkeypatch.setattr("provenance.exports.pdf.TABLE_ROWS", 2)
    monkeypatch.setattr("provenance.exports.pdf.CONTACT_SHEET", 3)
    text = "\n".join(pages_text(exported(approved, out / "capped.pdf")))
    assert "The first 2 of 6 records" in text and "CSV" in text
    assert "The first 3 of 6 images" in text
    members = list(approved.members.order_by("index").values_list("asset_sha256", flat=True))
    flat = text.replace(" ", "")
    assert members[1] in flat and members[5] not in flat


def test_a_model_report_names_its_run_base_model_snapshot_root_and_approvers(cpu_trained_model, operator, tmp_path):
    trainable, model = cpu_trained_model
    output = tmp_path / "model.pdf"

    export_write(subject="model", subject_id=str(model.pk), format_name="pdf", output=output)
    first = output.read_bytes()
    if SHOTS and shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "100", str(output), f"{SHOTS}/model"], check=True)
    text = "\n".join(pages_text(first))
    flat = text.replace(" ", "")
    assert str(model.pk) in flat and model.sha256 in flat
    assert str(model.training_run_id)[:8] in text and trainable.base_model.sha256 in flat
    assert trainable.snapshot.merkle_root in flat and "rita" in text and "ravi" in text
    assert "may be used" in text.lower() and "TAINTED" not in text
    export_write(subject="model", subject_id=str(model.pk), format_name="pdf", output=output, force=True)
    assert output.read_bytes() == first

    consent_revoke(consent_id=str(trainable.consent.pk), actor=operator, reason="withdrawn")
    export_write(subject="model", subject_id=str(model.pk), format_name="pdf", output=output, force=True)
    pages = pages_text(output.read_bytes())
    assert all("TAINTED" in page for page in pages) and "withdrawn" in "\n".join(pages)


TDM_RESERVED = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:tdm="http://www.w3.org/ns/tdmrep/"><tdm:reservation>1</tdm:reservation></rdf:Description>'
    b"</rdf:RDF></x:xmpmeta>"
)


def test_the_opt_outs_refused_at_ingest_and_the_ingested_images_thumbnails_are_shown(
    contributor, reviewer, ml_engineer, operator, out
):
    dataset = dataset_create(slug="street", scopes=["ai_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com")
    files = [SimpleUploadedFile(f"carla{i}.jpg", image_bytes(200 + i, size=(96, 64)), "image/jpeg") for i in range(2)]
    files.append(SimpleUploadedFile("reserved.jpg", image_bytes(210, xmp=TDM_RESERVED), "image/jpeg"))
    result = ingest(contributor, dataset, consent, *files)
    assert [row["reason"] for row in result["refused"]] == ["optout"]
    for row in result["accepted"]:
        asset_review(asset_id=row["asset_id"], reviewer=reviewer, decision="approve", reason="clean")
    snapshot = snapshot_create(dataset_slug="street", actor=ml_engineer)

    data = exported(snapshot, out / "optouts.pdf")
    text = "\n".join(pages_text(data))
    assert "Opted out of AI training 1" in text and result["refused"][0]["detail"][:30] in text
    assert "not in storage" not in text, "both members' thumbnails are on the contact sheet"
    assert len(PdfReader(io.BytesIO(data)).pages[5].images) == 2


def test_the_reports_page_prepares_the_pdf_in_the_background_never_in_the_request(approved, compliance):
    web = Client()
    web.force_login(compliance)
    offered = web.get(f"/reports/{approved.pk}/pdf/")
    assert offered.status_code == 200 and b"Prepare the PDF" in offered.content and not BackgroundJob.objects.exists()
    web.post(f"/reports/{approved.pk}/pdf/")
    job = BackgroundJob.objects.get()
    background_run(job.pk)
    download = web.get(f"/reports/downloads/{job.pk}/")
    data = b"".join(download.streaming_content)
    assert download["Content-Type"] == "application/pdf" and data.startswith(b"%PDF-")
    assert approved.merkle_root in "".join(pages_text(data)).replace(" ", "")


def test_rendering_a_pdf_leaves_ingest_refusing_truncated_images(approved, contributor, operator, out):
    """WeasyPrint's import switches on Pillow's process-wide LOAD_TRUNCATED_IMAGES; a worker or a
    command that had rendered a PDF then accepted half a JPEG at ingest (seen in the suite)."""
    exported(approved, out / "first.pdf")

    dataset = dataset_create(slug="after-a-report", scopes=["ai_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com")
    whole = image_bytes(31, size=(128, 128))
    result = ingest(contributor, dataset, consent, SimpleUploadedFile("half.jpg", whole[: len(whole) // 2], "image/jpeg"))

    assert [(row["reason"]) for row in result["refused"]] == ["invalid_image"] and result["accepted"] == []
