"""`export --model MODEL_ID --format json`: the model's report, from its records."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from provenance.services.consent import consent_revoke

pytestmark = pytest.mark.django_db


def test_a_model_exports_its_run_base_model_snapshot_and_lineage_and_says_when_tainted(cpu_trained_model, operator, tmp_path):
    trainable, model = cpu_trained_model
    output = tmp_path / "model.json"

    out = io.StringIO()
    call_command("export", "--model", str(model.pk), "--format", "json", "--output", str(output), "--json", stdout=out)
    assert json.loads(out.getvalue())["format"] == "json"
    document = json.loads(output.read_bytes())
    assert document["model"]["id"] == str(model.pk) and document["model"]["usable"] is True
    assert document["training_run"]["id"] == str(model.training_run_id) and document["training_run"]["requested_by"] == "mel"
    assert document["base_model"]["sha256"] == trainable.base_model.sha256
    (snapshot,) = document["snapshots"]
    assert (snapshot["snapshot_id"], snapshot["merkle_root"]) == (str(trainable.snapshot.pk), trainable.snapshot.merkle_root)
    assert document["lineage"]["snapshot"]["container_sha256"] == snapshot["container_sha256"] != ""

    consent_revoke(consent_id=str(trainable.consent.pk), actor=operator, reason="withdrawn")
    call_command("export", "--model", str(model.pk), "--format", "json", "--output", str(output), "--force", stdout=io.StringIO())
    document = json.loads(output.read_bytes())
    assert document["snapshots"][0]["status"] == "TAINTED" and document["model"]["usable"] is False
    assert document["model"]["refusal"]["code"] == "snapshot_tainted"
