"""The lineage contract: each record writes exactly the JSON that outputs already released were
signed with (labels, keys and their order), and reads back only what is well formed."""

from __future__ import annotations

import json

import pytest

from provenance.c2pa.lineage import (
    LINEAGE_LABEL,
    MODEL_ASSERTION,
    SNAPSHOT_ASSERTION,
    BaseModelIngredient,
    LineageMalformed,
    ModelAssertion,
    ModelIngredient,
    OutputLineage,
    SnapshotAssertion,
    SnapshotIngredient,
)

ROOT = "ab" * 32
OUTPUT = OutputLineage(
    output_id="o-1", watermark_id=7, job_id="j-1", kind="text_to_image", model_id="m-1", model_sha256="11" * 32,
    model_container_sha256="22" * 32, base_model_id="b-1", base_model_name="tiny-sd", base_model_sha256="33" * 32,
    snapshot_id="s-1", merkle_root=ROOT,
)  # fmt: skip
FILES = [{"path": "model_index.json", "sha256": "44" * 32}]

# The JSON the writers produced before the records existed (generation/services/manifest.py,
# training/services/lineage.py, provenance/services/snapshot_export.py at a904e84), key for key.
SIGNED_BEFORE = [
    (
        OUTPUT,
        '{"output_id": "o-1", "watermark_id": 7, "job_id": "j-1", "kind": "text_to_image", "model_id": "m-1", '
        f'"model_sha256": "{"11" * 32}", "model_container_sha256": "{"22" * 32}", "base_model_id": "b-1", '
        f'"base_model_name": "tiny-sd", "base_model_sha256": "{"33" * 32}", "snapshot_id": "s-1", "merkle_root": "{ROOT}"}}',
    ),
    (
        ModelAssertion(
            model_id="m-1",
            lora_sha256="11" * 32,
            training_run_id="r-1",
            snapshot_id="s-1",
            merkle_root=ROOT,
            base_model_id="b-1",
            base_model_sha256="33" * 32,
        ),
        f'{{"model_id": "m-1", "lora_sha256": "{"11" * 32}", "training_run_id": "r-1", "snapshot_id": "s-1", '
        f'"merkle_root": "{ROOT}", "base_model_id": "b-1", "base_model_sha256": "{"33" * 32}"}}',
    ),
    (
        SnapshotIngredient(snapshot_id="s-1", merkle_root=ROOT, container_sha256="55" * 32),
        f'{{"snapshot_id": "s-1", "merkle_root": "{ROOT}", "container_sha256": "{"55" * 32}"}}',
    ),
    (
        BaseModelIngredient(base_model_id="b-1", name="tiny-sd", licence="MIT", sha256="33" * 32, files=FILES),
        f'{{"base_model_id": "b-1", "name": "tiny-sd", "licence": "MIT", "sha256": "{"33" * 32}", '
        f'"files": [{{"path": "model_index.json", "sha256": "{"44" * 32}"}}]}}',
    ),
    (
        ModelIngredient(model_id="m-1", lora_sha256="11" * 32, container_sha256="22" * 32),
        f'{{"model_id": "m-1", "lora_sha256": "{"11" * 32}", "container_sha256": "{"22" * 32}"}}',
    ),
    (
        SnapshotAssertion(
            snapshot_id="s-1",
            dataset="portraits",
            merkle_root=ROOT,
            leaf_format="v1",
            asset_count=2,
            document_sha256="66" * 32,
        ),
        f'{{"snapshot_id": "s-1", "dataset": "portraits", "merkle_root": "{ROOT}", "leaf_format": "v1", '
        f'"asset_count": 2, "document_sha256": "{"66" * 32}"}}',
    ),
]


def test_the_labels_are_the_signed_ones():
    assert (LINEAGE_LABEL, MODEL_ASSERTION, SNAPSHOT_ASSERTION) == (
        "org.cleanroom.lineage",
        "org.cleanroom.model",
        "org.cleanroom.snapshot",
    )


@pytest.mark.parametrize(("record", "signed"), SIGNED_BEFORE, ids=lambda value: type(value).__name__)
def test_each_record_writes_the_json_already_signed_and_reads_it_back(record, signed):
    assert json.dumps(record.to_json()) == signed
    assert type(record).from_json(json.loads(signed)) == record


def test_an_output_without_a_watermark_says_null():
    unmarked = OutputLineage.from_json({**OUTPUT.to_json(), "watermark_id": None})

    assert unmarked.watermark_id is None and unmarked.to_json()["watermark_id"] is None


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({key: value for key, value in OUTPUT.to_json().items() if key != "merkle_root"}, "has no merkle_root"),
        ({**OUTPUT.to_json(), "snapshot_id": 12}, "snapshot_id is int, not str"),
        ({**OUTPUT.to_json(), "watermark_id": "7"}, "watermark_id is str"),
        ({**OUTPUT.to_json(), "watermark_id": True}, "watermark_id is bool"),
        (["not", "an", "object"], "is list, not an object"),
    ],
)
def test_malformed_lineage_is_refused_naming_the_key(data, complaint):
    with pytest.raises(LineageMalformed, match=complaint):
        OutputLineage.from_json(data)


def test_ingredient_metadata_is_also_read_under_the_private_prefix():
    metadata = {"org.cleanroom.snapshot_id": "s-1", "org.cleanroom.merkle_root": ROOT, "container_sha256": "55" * 32}

    assert SnapshotIngredient.from_json(metadata, prefixed=True).merkle_root == ROOT
    with pytest.raises(LineageMalformed, match="has no snapshot_id"):
        SnapshotIngredient.from_json(metadata)
    with pytest.raises(LineageMalformed, match="holds something other than objects"):
        BaseModelIngredient.from_json({**SIGNED_BEFORE[3][0].to_json(), "files": ["model_index.json"]})


def test_a_verifier_finds_the_output_of_otherwise_malformed_lineage():
    assert OutputLineage.output_id_in({"output_id": "o-1", "merkle_root": None}) == "o-1"
    assert OutputLineage.output_id_in({"output_id": 5}) is None and OutputLineage.output_id_in(None) is None
