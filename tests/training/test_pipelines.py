"""Loading models for generation: the LoRA is applied, and a model that may not generate, or
whose bytes changed, is refused before anything is loaded."""

from __future__ import annotations

import pytest

from core.exceptions import ApplicationError
from core.storage import blob_delete, blob_name, blob_storage
from provenance.services.consent import consent_revoke
from tests.training.factories import approved_base_model
from training.models import ModelArtifact
from training.pipelines import LORA_ADAPTER_NAME, device_for, load_base_pipeline, load_model_pipeline, lora_weights
from training.services import base_model_revoke, model_usable, training_execute, training_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(governed, base_model, pki) -> ModelArtifact:
    run = training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=2, seed=3)
    training_execute(run_id=run.pk)
    return ModelArtifact.objects.select_related("base_model").get(training_run=run)


def generate(pipeline):
    import torch

    return pipeline("a photo", num_inference_steps=2, generator=torch.Generator("cpu").manual_seed(1), output_type="np").images


def test_the_model_pipeline_carries_the_trained_lora(trained):
    from safetensors.torch import load

    pipeline = load_model_pipeline(trained, "cpu")
    assert LORA_ADAPTER_NAME in pipeline.get_active_adapters()
    saved = load(lora_weights(trained))
    name = next(n for n in saved if n.endswith("attn1.to_q.lora.up.weight"))
    module_path = name.removeprefix("unet.").removesuffix(".lora.up.weight")
    module = pipeline.unet.get_submodule(module_path)
    assert (module.lora_B[LORA_ADAPTER_NAME].weight == saved[name]).all()
    assert (generate(pipeline) != generate(load_base_pipeline(trained.base_model.directory, "cpu"))).any()
    assert (generate(pipeline) == generate(load_model_pipeline(trained, "cpu"))).all()


def test_changed_or_missing_lora_weights_are_refused(trained):
    path = blob_storage().path(blob_name(trained.sha256))
    with open(path, "r+b") as handle:
        handle.seek(200)
        handle.write(b"\x00\x01")
    with pytest.raises(ApplicationError) as changed:
        load_model_pipeline(trained, "cpu")
    assert changed.value.code == "model_weights_changed"
    blob_delete(trained.sha256)
    with pytest.raises(ApplicationError) as missing:
        load_model_pipeline(trained, "cpu")
    assert missing.value.code == "model_weights_missing"


def test_base_model_files_changed_after_training_are_refused(governed, tiny_copy, ml_engineer, reviewer, second_reviewer, pki):
    base_model = approved_base_model(tiny_copy, ml_engineer, reviewer, second_reviewer)
    run = training_request(snapshot_id=governed.snapshot.pk, base_model_id=base_model.pk, steps=1, seed=3)
    training_execute(run_id=run.pk)
    artifact = ModelArtifact.objects.get(training_run=run)
    load_model_pipeline(artifact, "cpu")  # verified once, and remembered by its files' stat
    (tiny_copy / "scheduler" / "scheduler_config.json").write_text("{}")
    with pytest.raises(ApplicationError) as refused:
        load_model_pipeline(artifact, "cpu")
    assert refused.value.code == "base_model_changed"


def test_a_model_whose_snapshot_was_tainted_after_training_may_not_generate(trained, governed, operator):
    model_usable(trained)
    consent_revoke(consent_id=str(governed.consent.pk), actor=operator, reason="withdrawn")
    with pytest.raises(ApplicationError) as refused:
        model_usable(trained)
    assert refused.value.code == "snapshot_tainted"


def test_a_model_whose_base_model_was_revoked_may_not_generate(trained, compliance):
    base_model_revoke(base_model_id=trained.base_model_id, actor=compliance, reason="licence withdrawn")
    with pytest.raises(ApplicationError) as refused:
        model_usable(trained)
    assert refused.value.code == "base_model_not_approved"


def test_device_settings():
    import torch

    assert device_for("cpu") == "cpu"
    assert device_for("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ApplicationError) as unknown:
        device_for("tpu")
    assert unknown.value.code == "invalid_device"
    if not torch.cuda.is_available():
        with pytest.raises(ApplicationError) as absent:
            device_for("cuda")
        assert absent.value.code == "no_cuda_device"
