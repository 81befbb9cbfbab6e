"""Executing a run: claimed once, every rule checked again before the first step, a LoRA
trained, and the model's signed lineage (snapshot and base model as `inputTo` ingredients)."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time

import pytest
from django.db import connection
from PIL import Image

from core.audit import audit_events, auditlog_verify
from core.storage import blob_name, blob_open, blob_storage
from provenance.c2pa.manifests import Ingredient, chain, container_files, read_manifest, sign_image
from provenance.models import Snapshot
from provenance.services.consent import consent_revoke
from tests.training.factories import approved_base_model
from training.models import ModelArtifact, RunStatus, TrainingRun
from training.services import training_cancel, training_execute, training_request

pytestmark = pytest.mark.django_db


def blob(sha256: str) -> bytes:
    with blob_open(sha256) as handle:
        return handle.read()


def run_for(governed, base_model, *, steps=3, seed=5, actor=None) -> TrainingRun:
    return training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=steps, seed=seed, actor=actor)


def test_a_run_trains_a_lora_and_records_everything(governed, base_model, pki, ml_engineer):
    run = run_for(governed, base_model, actor=ml_engineer)
    result = training_execute(run_id=run.pk)
    run.refresh_from_db()
    artifact = ModelArtifact.objects.get(training_run=run)
    assert (result, result.status, result.progress, result.artifact) == (run, "succeeded", 1.0, artifact)
    weights = blob(artifact.sha256)
    assert hashlib.sha256(weights).hexdigest() == artifact.sha256 and artifact.size == len(weights)
    assert (run.status, run.progress, run.device, len(run.loss_curve)) == (RunStatus.SUCCEEDED, 1.0, "cpu", 3)
    assert (
        run.config["resolution"] == 64
        and run.config["rank"] == 4
        and run.config["target_modules"] == ["to_q", "to_k", "to_v", "to_out.0"]
    )
    assert {"torch", "diffusers", "peft", "accelerate", "transformers"} <= set(run.library_versions)
    assert {"load_s", "train_s", "step_s_mean", "save_s", "total_s"} <= set(run.timings)
    assert run.started_at <= run.finished_at
    events = [(e.event_type, e.details.get("to")) for e in audit_events() if e.subject_id in (str(run.pk), str(artifact.pk))]
    assert events == [
        ("training.requested", None),
        ("training.status_changed", "running"),
        ("training.status_changed", "succeeded"),
        ("model.created", None),
    ]
    assert auditlog_verify().valid


def test_the_model_container_is_signed_with_the_snapshot_and_base_model_as_ingredients(governed, base_model, pki):
    run = run_for(governed, base_model, steps=1)
    training_execute(run_id=run.pk)
    run.refresh_from_db()
    artifact = ModelArtifact.objects.get(training_run=run)
    snapshot = Snapshot.objects.get(pk=governed.snapshot.pk)
    container = blob(artifact.container_sha256)
    reading = read_manifest(container, "application/x-zip")
    assert reading.trusted, reading.errors
    document = json.loads(container_files(container)["model.json"])
    assert document["model_id"] == str(artifact.pk) and document["lora"]["sha256"] == artifact.sha256
    assert document["training_run"]["id"] == str(run.pk) and document["training_run"]["seed"] == run.seed
    assert document["training_run"]["config"] == run.config
    assert document["base_model"]["sha256"] == base_model.sha256 and document["base_model"]["files"] == base_model.files
    assert document["snapshot"] == {
        "id": str(snapshot.pk),
        "merkle_root": snapshot.merkle_root,
        "leaf_format": snapshot.leaf_format,
        "asset_count": 3,
        "container_sha256": snapshot.container_sha256,
    }
    nodes = chain(reading)
    assert nodes[0]["assertions"]["org.cleanroom.model"]["lora_sha256"] == artifact.sha256
    by_type = {node["data_types"][0]: node for node in nodes[1:] if node["data_types"]}
    dataset, model = by_type["c2pa.types.dataset"], by_type["c2pa.types.model"]
    assert dataset["relationship"] == model["relationship"] == "inputTo"
    assert dataset["metadata"] == {
        "snapshot_id": str(snapshot.pk),
        "merkle_root": snapshot.merkle_root,
        "container_sha256": snapshot.container_sha256,
    }
    # The snapshot's own signed manifest is nested inside the model's.
    assert dataset["label"] and dataset["assertions"]["org.cleanroom.snapshot"]["merkle_root"] == snapshot.merkle_root
    assert model["metadata"]["sha256"] == base_model.sha256
    assert model["metadata"]["files"] == [{"path": f["path"], "sha256": f["sha256"]} for f in base_model.files]


def test_the_ingredient_archive_carries_the_whole_chain_into_an_image(governed, base_model, pki):
    run = run_for(governed, base_model, steps=1)
    training_execute(run_id=run.pk)
    artifact = ModelArtifact.objects.get(training_run=run)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 120, 150)).save(buffer, format="PNG")
    signed = sign_image(
        image=buffer.getvalue(),
        mime_type="image/png",
        title="an output",
        assertions=[],
        ingredients=[Ingredient(title="model", mime_type="application/x-zip", archive=blob(artifact.ingredient_archive_sha256))],
    )
    reading = read_manifest(signed, "image/png")
    assert reading.trusted, reading.errors
    nodes = chain(reading)
    model = next(node for node in nodes if node["metadata"].get("model_id") == str(artifact.pk))
    assert model["data_types"] == ["c2pa.types.model"] and model["metadata"]["lora_sha256"] == artifact.sha256
    assert model["metadata"]["container_sha256"] == artifact.container_sha256
    snapshot_node = next(node for node in nodes if node["metadata"].get("snapshot_id") == str(governed.snapshot.pk))
    assert snapshot_node["depth"] == model["depth"] + 1


def test_two_runs_with_the_same_seed_make_the_same_weights(governed, base_model, pki):
    first, second, other = (run_for(governed, base_model, steps=2, seed=seed) for seed in (9, 9, 10))
    for run in (first, second, other):
        training_execute(run_id=run.pk)
    sha = {run.pk: ModelArtifact.objects.get(training_run=run).sha256 for run in (first, second, other)}
    assert sha[first.pk] == sha[second.pk] != sha[other.pk]
    assert TrainingRun.objects.get(pk=first.pk).loss_curve == TrainingRun.objects.get(pk=second.pk).loss_curve


def test_an_image_changed_after_the_request_fails_the_run_before_a_single_step(governed, base_model, pki):
    run = run_for(governed, base_model)
    with open(blob_storage().path(blob_name(governed.assets[0].sha256)), "r+b") as handle:
        handle.write(b"\xff\xd8\xff\x00")
    result = training_execute(run_id=run.pk)
    run.refresh_from_db()
    assert (result.status, result.error_code, hasattr(result, "artifact")) == ("failed", "blob_mismatch", False)
    assert run.loss_curve == [] and run.progress == 0.0 and run.error_code == "blob_mismatch"
    assert not ModelArtifact.objects.exists()
    [refusal] = audit_events(event_type="training.refused")
    assert (refusal.subject_type, refusal.subject_id, refusal.details["code"]) == ("trainingrun", str(run.pk), "blob_mismatch")


def test_base_model_files_changed_after_the_request_fail_the_run(
    governed, tiny_copy, ml_engineer, reviewer, second_reviewer, pki
):
    base_model = approved_base_model(tiny_copy, ml_engineer, reviewer, second_reviewer)
    run = run_for(governed, base_model)
    (tiny_copy / "unet" / "extra.safetensors").write_bytes(b"smuggled")
    assert training_execute(run_id=run.pk).error_code == "base_model_changed"


def test_a_snapshot_tainted_after_the_request_fails_the_run(governed, base_model, operator, pki):
    run = run_for(governed, base_model)
    consent_revoke(consent_id=str(governed.consent.pk), actor=operator, reason="revoked")
    assert training_execute(run_id=run.pk).error_code == "snapshot_tainted"
    assert not ModelArtifact.objects.exists()


def test_without_a_signing_identity_no_model_is_recorded(governed, base_model, settings, tmp_path):
    settings.CLEANROOM_SIGNER = {
        **settings.CLEANROOM_SIGNER,
        "CERT_CHAIN": str(tmp_path / "none.pem"),
        "KEY": str(tmp_path / "none.key"),
    }
    run = run_for(governed, base_model, steps=1)
    result = training_execute(run_id=run.pk)
    assert (result.status, result.error_code) == ("failed", "signer_not_configured")
    assert not ModelArtifact.objects.exists()


def test_a_cancelled_queued_run_never_trains(governed, base_model, ml_engineer, pki):
    run = run_for(governed, base_model)
    cancelled = training_cancel(run_id=run.pk, actor=ml_engineer)
    assert (cancelled.status, cancelled.error_code) == ("cancelled", "cancelled")
    result = training_execute(run_id=run.pk, task_id=run.task_id)
    run.refresh_from_db()
    assert result.status == "cancelled" and run.started_at is None and run.loss_curve == []


@pytest.mark.django_db(transaction=True)
def test_a_running_run_stops_within_a_progress_interval_when_cancelled(governed, base_model, ml_engineer, pki):
    run = run_for(governed, base_model, steps=2000)

    def work():
        try:
            training_execute(run_id=run.pk, task_id=run.task_id)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    deadline = time.monotonic() + 60
    while not TrainingRun.objects.get(pk=run.pk).loss_curve:
        assert time.monotonic() < deadline and worker.is_alive(), "the run never reported progress"
        time.sleep(0.05)
    training_cancel(run_id=run.pk, actor=ml_engineer, reason="wrong snapshot")
    cancelled_at = time.monotonic()
    worker.join(timeout=30)
    assert not worker.is_alive() and time.monotonic() - cancelled_at < 5
    run.refresh_from_db()
    assert (run.status, run.error) == ("cancelled", "wrong snapshot")
    assert 0 < len(run.loss_curve) < 2000 and not ModelArtifact.objects.exists()


def test_a_finished_run_is_not_trained_twice(governed, base_model, pki):
    run = run_for(governed, base_model, steps=1)
    first = training_execute(run_id=run.pk, task_id=run.task_id)
    again = training_execute(run_id=run.pk, task_id="another-delivery")
    assert (again.status, again.status_changed_at) == (first.status, first.status_changed_at)
    assert ModelArtifact.objects.count() == 1


def test_a_redelivered_message_of_a_lost_worker_fails_the_run(governed, base_model):
    run = run_for(governed, base_model)
    TrainingRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)  # a worker claimed it, then died
    assert training_execute(run_id=run.pk, task_id="someone-else").status == "running"
    result = training_execute(run_id=run.pk, task_id=run.task_id)
    assert (result.status, result.error_code) == ("failed", "worker_lost")
