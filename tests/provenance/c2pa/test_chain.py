"""The chain of provenance: snapshot container → model container → ingredient archive → image."""

from __future__ import annotations

import pytest

from provenance.c2pa.manifests import chain, read_manifest, signature_of, validation_failures
from tests.provenance.c2pa.chains import BASE_WEIGHTS, MERKLE_ROOT, Chain, build_chain, sha256, sign_output
from tests.provenance.ingest import images
from tests.support.pki import use_identity, write_identity


@pytest.fixture
def built(identity) -> Chain:
    return build_chain()


def test_an_output_carries_the_whole_chain_and_reads_trusted(built):
    reading = read_manifest(sign_output(built.archive), "image/png")

    assert reading.state == "Trusted" and reading.errors == []
    nodes = chain(reading)
    assert [(node["title"], node["depth"]) for node in nodes] == [
        ("output.png", 0),
        ("model m-1", 1),
        ("tiny-sd base model", 2),
        ("snapshot s-1", 2),
    ]
    output, model, base, snapshot = nodes
    assert output["assertions"]["org.cleanroom.lineage"]["job_id"] == "job-1"
    assert {entry["use"] for entry in output["assertions"]["cawg.training-mining"]["entries"].values()} == {"notAllowed"}
    algorithms = {output["assertions"][key]["alg"] for key in ("c2pa.soft-binding", "c2pa.soft-binding__1")}
    assert algorithms == {"org.cleanroom.watermark.rivagan.1", "org.cleanroom.fingerprint.phash.1"}

    assert model["relationship"] == "inputTo" and model["data_types"] == ["c2pa.types.model"]
    assert model["metadata"]["org.cleanroom.sha256"] == sha256(built.model)
    assert model["assertions"]["org.cleanroom.model"]["model_id"] == "m-1" and model["parent"] == output["label"]

    assert base["label"] is None and base["data_types"] == ["c2pa.types.model"]
    assert base["metadata"]["org.cleanroom.sha256"] == BASE_WEIGHTS

    assert snapshot["data_types"] == ["c2pa.types.dataset"] and snapshot["parent"] == model["label"]
    assert snapshot["metadata"]["org.cleanroom.sha256"] == sha256(built.snapshot)
    assert snapshot["assertions"]["org.cleanroom.snapshot"]["merkle_root"] == MERKLE_ROOT
    assert all(node["signature"].get("common_name") == "Cleanroom test signer" for node in (output, model, snapshot))


def test_one_ingredient_archive_serves_many_outputs(built):
    first, second = sign_output(built.archive, "job-1"), sign_output(built.archive, "job-2")

    for data, job in ((first, "job-1"), (second, "job-2")):
        reading = read_manifest(data, "image/png")
        assert reading.trusted and len(chain(reading)) == 4
        assert chain(reading)[0]["assertions"]["org.cleanroom.lineage"]["job_id"] == job


def test_a_change_inside_an_ancestor_manifest_is_detected(built):
    signed = sign_output(built.archive)
    assert signed.count(MERKLE_ROOT.encode()) == 3  # the lineage, the snapshot's assertion, its ingredient's metadata
    position = signed.find(MERKLE_ROOT.encode(), signed.find(b"org.cleanroom.snapshot"))
    tampered = signed[:position] + b"00" + signed[position + 2 :]

    reading = read_manifest(images.with_png_crcs_recomputed(tampered), "image/png")

    assert reading.state == "Invalid" and not reading.trusted
    assert {"ingredient.manifest.mismatch", "assertion.hashedURI.mismatch"} <= set(reading.errors)


def test_an_ancestor_signed_by_another_pki_spoils_the_chain(identity, settings, tmp_path):
    use_identity(settings, write_identity(tmp_path / "foreign", name="Somebody else"))
    foreign = build_chain()
    use_identity(settings, identity)

    reading = read_manifest(sign_output(foreign.archive), "image/png")

    assert reading.state == "Valid" and not reading.trusted
    assert "signingCredential.untrusted" in reading.errors


def test_a_change_inside_an_ancestor_names_that_ingredient_and_breaks_integrity(built):
    signed = sign_output(built.archive)
    position = signed.find(MERKLE_ROOT.encode(), signed.find(b"org.cleanroom.snapshot"))
    reading = read_manifest(images.with_png_crcs_recomputed(signed[:position] + b"00" + signed[position + 2 :]), "image/png")

    failures = validation_failures(reading)

    assert not reading.intact
    assert {(f.where, f.code) for f in failures} == {
        ("ingredient 'snapshot s-1' (dataset)", "ingredient.manifest.mismatch"),
        ("ingredient 'snapshot s-1' (dataset)", "assertion.hashedURI.mismatch"),
    }
    assert all(f.ingredient == "snapshot s-1" and f.integrity for f in failures)


def test_a_foreign_chain_is_intact_but_every_signer_in_it_is_an_untrusted_failure(identity, settings, tmp_path):
    use_identity(settings, write_identity(tmp_path / "foreign", name="Somebody else"))
    foreign = sign_output(build_chain().archive)
    use_identity(settings, identity)

    reading = read_manifest(foreign, "image/png")

    assert reading.intact and not reading.trusted
    assert [(f.where, f.code, f.integrity) for f in validation_failures(reading)] == [
        ("the image's own manifest", "signingCredential.untrusted", False),
        ("ingredient 'model m-1' (model)", "signingCredential.untrusted", False),
        ("ingredient 'snapshot s-1' (dataset)", "signingCredential.untrusted", False),
    ]
    assert signature_of(reading) == {
        "name": "Somebody else signer",
        "issuer": "Cleanroom",
        "signed_at": None,
        "time_stamped": False,
        "trusted": False,
    }
    assert signature_of(read_manifest(sign_output(build_chain().archive), "image/png"))["trusted"] is True
