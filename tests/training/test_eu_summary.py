"""`export --model MODEL_ID --format eu-summary`: the AI Office template's three sections, every
figure counted from the model's snapshot and its dataset's ingest; and the snapshot's compliance
pack carrying the model's signed container."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from provenance.services.assets import asset_review
from provenance.services.consent import consent_revoke
from provenance.services.datasets import dataset_create
from provenance.services.snapshots import snapshot_approve, snapshot_create
from tests.provenance.factories import grant_consent, image_bytes, ingest
from tests.training.factories import approved_base_model, trained_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(contributor, reviewer, second_reviewer, ml_engineer, operator, pki, tiny_model_dir, settings):
    """Two images ingested and approved, a third refused because its SHA-256 is on the
    do-not-train list, a snapshot of the two approved by two reviewers, a LoRA trained on it."""
    settings.CLEANROOM_TRAINING = {**settings.CLEANROOM_TRAINING, "DEVICE": "cpu"}
    dataset = dataset_create(slug="portraits", scopes=["ai_training", "generative_training"], actor=operator)
    consent = grant_consent(contributor, "carla@example.com")
    opted_out = image_bytes(300, size=(48, 32))
    with open(settings.CLEANROOM_DO_NOT_TRAIN_FILE, "w", encoding="utf-8") as listed:
        listed.write(hashlib.sha256(opted_out).hexdigest() + "\n")
    files = [SimpleUploadedFile(f"carla{i}.jpg", image_bytes(100 + i, size=(64, 64)), "image/jpeg") for i in range(2)]
    result = ingest(contributor, dataset, consent, *files, SimpleUploadedFile("listed.jpg", opted_out, "image/jpeg"))
    assert [row["reason"] for row in result["refused"]] == ["optout"]
    for row in result["accepted"]:
        asset_review(asset_id=row["asset_id"], reviewer=reviewer, decision="approve", reason="clean")
    snapshot = snapshot_create(dataset_slug="portraits", actor=ml_engineer)
    snapshot_approve(snapshot_id=str(snapshot.pk), reviewer=reviewer)
    snapshot_approve(snapshot_id=str(snapshot.pk), reviewer=second_reviewer)
    base_model = approved_base_model(tiny_model_dir, ml_engineer, reviewer, second_reviewer)
    return trained_model(snapshot, base_model, ml_engineer)


def summary_of(model, output, *extra) -> tuple[str, dict]:
    said = io.StringIO()
    call_command(
        "export", "--model", str(model.pk), "--format", "eu-summary", "--output", str(output), *extra, "--json", stdout=said
    )
    assert json.loads(said.getvalue())["format"] == "eu-summary"
    text = output.read_text(encoding="utf-8")
    figures = json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])
    return text, figures


def test_the_summary_fills_the_templates_three_sections_from_the_records(model, tmp_path):
    text, figures = summary_of(model, tmp_path / "summary.md")

    for heading in ("## 1. General information", "## 2. List of data sources", "## 3. Data processing"):
        assert heading in text
    (image,) = figures["general_information"]["modalities"]
    assert (image["modality"], image["files"], image["size_range"]) == ("Image", 2, "Less than 1 million images")
    assert image["content_types"] == {"image/jpeg": 2} and image["smallest_pixels"] == [64, 64]
    assert image["bytes"] == sum(m.asset.size for m in model.snapshot.members.select_related("asset"))
    sources = figures["data_sources"]
    assert sources["contributed_under_consent"] == {"files": 2, "contributors": 1, "consent_records": 1}
    assert sources["crawled_or_scraped"] == [] and sources["every_file_consented"] is True
    optouts = figures["data_processing"]["opt_outs"]
    assert optouts["files_refused"] == 1
    assert optouts["files_refused_by_signal"] == {"the organisation's do-not-train list (file SHA-256s and source URLs)": 1}
    assert "1 file(s) carrying one were refused" in text
    unsafe = figures["data_processing"]["illegal_and_unsafe_content"]
    assert unsafe["findings"] == [] and "counted_from" in unsafe
    assert f"The base model {model.base_model.name}'s own training data is not covered" in text
    assert "Provider: *not filled*" in text
    assert figures["status"] != "TAINTED" and "TAINTED" not in text

    again, _ = summary_of(model, tmp_path / "summary.md", "--force")
    assert again == text


def test_a_tainted_models_summary_says_so_with_the_revocation(model, operator, tmp_path):
    consent_revoke(consent_id=str(model.snapshot.members.first().consent_id), actor=operator, reason="carla withdrew")
    text, figures = summary_of(model, tmp_path / "summary.md")
    assert figures["status"] == "TAINTED" and "**TAINTED.**" in text and "carla withdrew" in text


def test_the_snapshots_pack_carries_the_signed_container_of_the_model_trained_on_it(model, tmp_path):
    output = tmp_path / "pack.zip"
    call_command("export", str(model.snapshot_id), "--format", "pack", "--output", str(output), stdout=io.StringIO())
    with zipfile.ZipFile(output) as pack:
        document = json.loads(pack.read("pack.json"))
        container = pack.read(f"models/{model.pk}.zip")
    assert document["models"] == [{"id": str(model.pk), "path": f"models/{model.pk}.zip", "sha256": model.container_sha256}]
    assert hashlib.sha256(container).hexdigest() == model.container_sha256
