"""Base models: registered from a local pipeline directory with every file's digest, approved
by two distinct reviewers (never the registrant), refused when the files changed."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from core.audit import audit_events, auditlog_verify
from core.exceptions import ApplicationError, PermissionDenied
from training.api.serializers import BaseModelResultSerializer
from training.models import BaseModel
from training.services import base_model_approve, base_model_register, base_model_reject, base_model_revoke

pytestmark = pytest.mark.django_db


def register(directory, actor, name="tiny-sd"):
    """Register through the service, answered as the API and `basemodel add --json` answer."""
    registered = base_model_register(directory=directory, name=name, licence="MIT", provenance="built in code", actor=actor)
    return BaseModelResultSerializer(registered).data


def test_registration_records_every_file_and_a_digest_sha256sum_reproduces(tiny_model_dir, ml_engineer):
    result = register(tiny_model_dir, ml_engineer)
    assert result["status"] == "in_review" and result["approvals"] == []
    base_model = BaseModel.objects.get(pk=result["base_model_id"])
    on_disk = sorted(p.relative_to(tiny_model_dir).as_posix() for p in tiny_model_dir.rglob("*") if p.is_file())
    assert [entry["path"] for entry in base_model.files] == on_disk
    weights = tiny_model_dir / "unet" / "diffusion_pytorch_model.safetensors"
    entry = next(e for e in base_model.files if e["path"] == "unet/diffusion_pytorch_model.safetensors")
    assert entry == {
        "path": entry["path"],
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "size": weights.stat().st_size,
    }
    # The documented recipe: sha256sum over every file, sorted by path, hashed again.
    listing = subprocess.run(  # noqa: S602 (the documented shell recipe itself)
        "find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum",
        shell=True, cwd=tiny_model_dir, capture_output=True, text=True, check=True,
    ).stdout.split()[0]  # fmt: skip
    assert result["sha256"] == base_model.sha256 == listing
    [event] = audit_events(event_type="base_model.registered")
    assert event.details["sha256"] == listing and event.actor == "mel"


def test_registration_records_the_native_size_from_the_configs_without_torch(tiny_copy, ml_engineer):
    # diffusers' default: the UNet's sample_size (32 latent pixels) × the VAE's scale factor (2).
    result = register(tiny_copy, ml_engineer)
    assert result["native_size"] == [64, 64]
    assert BaseModel.objects.get(pk=result["base_model_id"]).native_size == (64, 64)
    [event] = audit_events(event_type="base_model.registered")
    assert event.details["native_size"] == [64, 64]

    config = tiny_copy / "unet" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "sample_size": [48, 40]}))
    assert register(tiny_copy, ml_engineer, name="wide")["native_size"] == [80, 96]  # [height, width] latents
    config.write_text(json.dumps({**json.loads(config.read_text()), "sample_size": None}))
    assert register(tiny_copy, ml_engineer, name="unsaid")["native_size"] is None


def test_a_folder_that_is_not_a_pipeline_is_refused_with_the_reason(tmp_path, ml_engineer):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ApplicationError) as refused:
        register(empty, ml_engineer)
    assert refused.value.code == "not_a_pipeline" and "model_index.json" in refused.value.message
    with pytest.raises(ApplicationError) as refused:
        register(tmp_path / "absent", ml_engineer)
    assert refused.value.code == "not_a_directory"
    (empty / "model_index.json").write_text("{not json")
    with pytest.raises(ApplicationError) as refused:
        register(empty, ml_engineer)
    assert refused.value.code == "not_a_pipeline" and "unreadable" in refused.value.message
    (empty / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionXLPipeline"}))
    with pytest.raises(ApplicationError) as refused:
        register(empty, ml_engineer)
    assert refused.value.code == "unsupported_pipeline"
    assert not BaseModel.objects.exists()


def test_a_pipeline_missing_a_component_is_refused(tiny_copy, ml_engineer):
    for child in (tiny_copy / "vae").iterdir():
        child.unlink()
    with pytest.raises(ApplicationError) as refused:
        register(tiny_copy, ml_engineer)
    assert refused.value.code == "not_a_pipeline" and "vae" in refused.value.message


def test_pickle_weights_are_refused(tiny_copy, ml_engineer):
    (tiny_copy / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ApplicationError) as refused:
        register(tiny_copy, ml_engineer)
    assert refused.value.code == "pickle_weights"


def test_names_are_unique(tiny_model_dir, ml_engineer):
    register(tiny_model_dir, ml_engineer)
    with pytest.raises(ApplicationError) as refused:
        register(tiny_model_dir, ml_engineer)
    assert refused.value.code == "duplicate_name"


def test_only_ml_engineers_and_operators_register(tiny_model_dir, reviewer):
    with pytest.raises(PermissionDenied):
        register(tiny_model_dir, reviewer)


def test_approval_needs_two_distinct_reviewers(tiny_model_dir, ml_engineer, reviewer, second_reviewer):
    base_model_id = register(tiny_model_dir, ml_engineer)["base_model_id"]
    first = BaseModelResultSerializer(base_model_approve(base_model_id=base_model_id, reviewer=reviewer)).data
    assert (first["status"], first["approvals"]) == ("in_review", ["rita"])
    with pytest.raises(ApplicationError) as twice:
        base_model_approve(base_model_id=base_model_id, reviewer=reviewer)
    assert twice.value.code == "already_approved_by_you"
    second = BaseModelResultSerializer(base_model_approve(base_model_id=base_model_id, reviewer=second_reviewer)).data
    assert (second["status"], second["approvals"]) == ("approved", ["rita", "ravi"])
    kinds = [(e.event_type, e.details.get("decision") or e.details.get("to")) for e in audit_events(subject_id=base_model_id)]
    assert kinds == [
        ("base_model.registered", None),
        ("base_model.reviewed", "approve"),
        ("base_model.reviewed", "approve"),
        ("base_model.status_changed", "approved"),
    ]
    assert auditlog_verify().valid


def test_the_registrant_cannot_approve_even_as_a_reviewer(tiny_model_dir, ml_engineer):
    from core.users import user_add

    user_add(username=ml_engineer.username, role="reviewer")
    base_model_id = register(tiny_model_dir, ml_engineer)["base_model_id"]
    with pytest.raises(PermissionDenied):
        base_model_approve(base_model_id=base_model_id, reviewer=ml_engineer)


def test_non_reviewers_cannot_approve(tiny_model_dir, ml_engineer, compliance):
    base_model_id = register(tiny_model_dir, ml_engineer)["base_model_id"]
    with pytest.raises(PermissionDenied):
        base_model_approve(base_model_id=base_model_id, reviewer=compliance)


def test_a_rejection_needs_a_reason_and_is_final(tiny_model_dir, ml_engineer, reviewer, second_reviewer):
    base_model_id = register(tiny_model_dir, ml_engineer)["base_model_id"]
    with pytest.raises(ApplicationError) as no_reason:
        base_model_reject(base_model_id=base_model_id, reviewer=reviewer, reason=" ")
    assert no_reason.value.code == "reason_required"
    assert base_model_reject(base_model_id=base_model_id, reviewer=reviewer, reason="licence unclear").status == "rejected"
    with pytest.raises(ApplicationError) as final:
        base_model_approve(base_model_id=base_model_id, reviewer=second_reviewer)
    assert final.value.code == "not_in_review"


def test_files_changed_since_registration_cannot_be_approved(tiny_copy, ml_engineer, reviewer):
    base_model_id = register(tiny_copy, ml_engineer)["base_model_id"]
    with (tiny_copy / "unet" / "config.json").open("a") as handle:
        handle.write(" ")
    with pytest.raises(ApplicationError) as refused:
        base_model_approve(base_model_id=base_model_id, reviewer=reviewer)
    assert refused.value.code == "base_model_changed"
    assert refused.value.extra["changed_files"] == ["unet/config.json"]


def test_an_approved_base_model_can_be_revoked_with_a_reason_by_compliance_or_reviewers(base_model, compliance, ml_engineer):
    with pytest.raises(PermissionDenied):
        base_model_revoke(base_model_id=base_model.pk, actor=ml_engineer, reason="mine")
    with pytest.raises(ApplicationError) as no_reason:
        base_model_revoke(base_model_id=base_model.pk, actor=compliance, reason="")
    assert no_reason.value.code == "reason_required"
    assert base_model_revoke(base_model_id=base_model.pk, actor=compliance, reason="licence withdrawn").status == "revoked"
    with pytest.raises(ApplicationError) as again:
        base_model_revoke(base_model_id=base_model.pk, actor=compliance, reason="twice")
    assert again.value.code == "illegal_transition"
    [event] = audit_events(event_type="base_model.status_changed", subject_id=str(base_model.pk))[1:]
    assert (event.actor, event.details["to"], event.details["reason"]) == ("cora", "revoked", "licence withdrawn")


def test_a_relative_directory_is_found_under_the_models_folder(tiny_model_dir, ml_engineer, settings):
    settings.CLEANROOM_MODELS_DIR = tiny_model_dir.parent
    result = register(tiny_model_dir.name, ml_engineer)
    assert BaseModel.objects.get(pk=result["base_model_id"]).directory == str(tiny_model_dir.resolve())
