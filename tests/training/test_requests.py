"""A training request checks every rule before a run exists: a refusal is an error with a
code, a TRAINING_REFUSED event in the log, and no run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.audit import audit_events, auditlog_verify
from core.exceptions import ApplicationError, NotFound, PermissionDenied
from core.storage import blob_delete, blob_name, blob_storage
from provenance.models import ConsentRecord
from provenance.services.consent import consent_revoke
from provenance.services.snapshots import snapshot_create
from tests.provenance.factories import DatasetFactory, add_to_dataset
from tests.training.factories import approved_base_model
from training.models import RunStatus, TrainingRun
from training.services import base_model_register, training_request

pytestmark = pytest.mark.django_db


def refused(governed, base_model, actor=None, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=2, actor=actor, **kwargs)
    assert not TrainingRun.objects.exists(), "a refused request must leave no run"
    return caught.value


def assert_refusal_logged(code: str, snapshot_id) -> None:
    [event] = audit_events(event_type="training.refused")
    assert event.details["code"] == code
    assert (event.subject_type, event.subject_id) == ("snapshot", str(snapshot_id))
    assert auditlog_verify().valid


def test_a_valid_request_creates_a_queued_run_with_its_task_id(governed, base_model, ml_engineer):
    run = training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=3, seed=7, actor=ml_engineer)
    assert (run.status, run.steps, run.seed, run.requested_by) == (RunStatus.QUEUED, 3, 7, ml_engineer)
    assert len(run.task_id) == 36
    assert run.config == {"rank": 4, "learning_rate": 1e-4, "batch_size": 1, "resolution": None, "mixed_precision": "no"}
    [event] = audit_events(event_type="training.requested")
    assert (
        event.details["merkle_root"] == governed.snapshot.merkle_root and event.details["base_model_sha256"] == base_model.sha256
    )


def test_a_snapshot_in_review_is_refused(ml_engineer, base_model, governed):
    dataset = DatasetFactory()
    add_to_dataset(dataset, *governed.assets)
    in_review = str(snapshot_create(dataset_slug=dataset.slug, actor=ml_engineer).pk)
    with pytest.raises(ApplicationError) as caught:
        training_request(snapshot_id=in_review, base_model_id=base_model.pk, steps=2)
    assert caught.value.code == "snapshot_not_approved"
    assert not TrainingRun.objects.exists()
    assert_refusal_logged("snapshot_not_approved", in_review)


def test_a_tainted_snapshot_is_refused(governed, base_model, operator):
    consent_revoke(consent_id=str(governed.consent.pk), actor=operator, reason="withdrawn by the photographer")
    error = refused(governed, base_model)
    assert error.code == "snapshot_tainted" and "withdrawn by the photographer" in error.message
    assert_refusal_logged("snapshot_tainted", governed.snapshot.pk)


def test_a_base_model_in_review_is_refused(governed, tiny_model_dir, ml_engineer):
    from training.models import BaseModel

    pending = BaseModel.objects.get(
        pk=base_model_register(directory=tiny_model_dir, name="pending", licence="MIT", actor=ml_engineer).pk
    )
    assert refused(governed, pending).code == "base_model_not_approved"
    assert_refusal_logged("base_model_not_approved", governed.snapshot.pk)


def test_base_model_files_changed_on_disk_are_refused(governed, tiny_copy, ml_engineer, reviewer, second_reviewer):
    base_model = approved_base_model(tiny_copy, ml_engineer, reviewer, second_reviewer)
    weights = tiny_copy / "text_encoder" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    error = refused(governed, base_model)
    assert error.code == "base_model_changed" and error.extra["changed_files"] == ["text_encoder/model.safetensors"]
    assert_refusal_logged("base_model_changed", governed.snapshot.pk)


def test_an_image_whose_bytes_changed_is_refused_before_any_step(governed, base_model):
    tampered = governed.assets[1].sha256
    path = blob_storage().path(blob_name(tampered))
    with open(path, "ab") as handle:
        handle.write(b"\x00")
    error = refused(governed, base_model)
    assert error.code == "blob_mismatch"
    assert [(b["sha256"], b["problem"]) for b in error.extra["blobs"]] == [(tampered, "mismatch")]
    assert_refusal_logged("blob_mismatch", governed.snapshot.pk)


def test_a_missing_image_blob_is_refused(governed, base_model):
    blob_delete(governed.assets[0].sha256)
    error = refused(governed, base_model)
    assert error.code == "blob_missing" and error.extra["blobs"] == [{"sha256": governed.assets[0].sha256, "problem": "missing"}]
    assert_refusal_logged("blob_missing", governed.snapshot.pk)


def test_a_consent_that_expired_since_approval_is_refused(governed, base_model):
    ConsentRecord.objects.filter(pk=governed.consent.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert refused(governed, base_model).code == "consent_lapsed"
    assert_refusal_logged("consent_lapsed", governed.snapshot.pk)


def test_only_ml_engineers_and_operators_request_training(governed, base_model, reviewer, product):
    for actor in (reviewer, product):
        with pytest.raises(PermissionDenied):
            training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, actor=actor)
    assert not TrainingRun.objects.exists()


def test_unknown_ids_steps_and_options_are_refused(governed, base_model):
    with pytest.raises(NotFound):
        training_request(snapshot_id="not-a-uuid", base_model_id=base_model.pk)
    with pytest.raises(NotFound):
        training_request(snapshot_id=governed.snapshot.pk, base_model_id="00000000-0000-0000-0000-000000000000")
    for steps in (0, 10**9):
        with pytest.raises(ApplicationError) as caught:
            training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=steps)
        assert caught.value.code == "invalid_steps"
    for options in ({"rank": 0}, {"dropout": 0.1}, {"resolution": 65}):
        with pytest.raises(ApplicationError) as caught:
            training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, options=options)
        assert caught.value.code == "invalid_option"
    assert not TrainingRun.objects.exists()
