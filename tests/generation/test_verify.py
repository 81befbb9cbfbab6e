"""`verify FILE`: an output proves its chain; stripped copies are traced; tampering, foreign
signers, taint and strangers are each reported. Driven through the command line contract."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from PIL import Image
from skimage import data as samples

from generation.services.bindings import FINGERPRINT_ALGORITHM
from generation.services.verification import verify_image
from provenance.c2pa.lineage import LINEAGE_LABEL
from provenance.c2pa.manifests import read_manifest, sign_image, training_mining_assertion
from provenance.models import ConsentEvent
from provenance.services.consent import consent_expire_due, consent_renew, consent_revoke
from tests.generation.factories import SIZE, png_with_changed_assertion, released, tampered_png
from tests.provenance.ingest.images import flip_byte_in_scan_data
from tests.support.pki import use_identity, write_identity

pytestmark = pytest.mark.slow


def verify(path) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("verify", str(path), "--json", stdout=out)
        code = 0
    except CommandError as error:
        code = error.returncode
    return code, json.loads(out.getvalue())


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- the tests -----------------------------------------------------------------------------------
def test_a_released_output_verifies_trusted_with_its_whole_chain(world, product, reviewer, second_reviewer, tmp_path):
    output, data = released(world, product)

    code, result = verify(write(tmp_path, "out.png", data))

    assert code == 0, result
    assert (result["valid"], result["trusted"], result["traced_by"], result["errors"]) == (True, True, "manifest", [])
    assert (result["verdict"], result["chain_state"], result["confidence"], result["taint"], result["failures"]) == (
        "Trusted",
        None,
        None,
        [],
        [],
    )
    assert result["summary"].startswith("Made by a model trained here on approved, consented images")
    assert result["signer"] == {
        "name": "Cleanroom Content Credentials",
        "issuer": "Cleanroom",
        "signed_at": None,
        "time_stamped": False,
        "trusted": True,
    }
    assert result["training_mining"]["labels"] == ["cawg.training-mining"]
    assert set(result["training_mining"]["entries"].values()) == {"notAllowed"}
    model, snapshot = world.model, world.snapshot
    snapshot.refresh_from_db()
    assert result["chain"] == [
        {
            "type": "output",
            "id": str(output.pk),
            "sha256": output.sha256,
            "job_id": str(output.job_id),
            "created_at": output.released_at.isoformat(),
            "parameters": {
                "kind": "inpaint",
                "width": SIZE,
                "height": SIZE,
                "seed": 5,
                "steps": 2,
                "guidance": 1.0,
                "strength": output.job.parameters["strength"],
                "digital_source_type": "trainedAlgorithmicMedia",
            },
        },
        {
            "type": "model",
            "id": str(model.pk),
            "sha256": model.sha256,
            "created_at": model.created_at.isoformat(),
            "status": "usable",
        },
        {
            "type": "base_model",
            "id": str(model.base_model.pk),
            "sha256": model.base_model.sha256,
            "name": "tiny-sd",
            "status": "approved",
            "created_at": model.base_model.created_at.isoformat(),
        },
        {
            "type": "snapshot",
            "id": str(snapshot.pk),
            "merkle_root": snapshot.merkle_root,
            "sha256": snapshot.container_sha256,
            "status": "approved",
            "created_at": snapshot.created_at.isoformat(),
            "approved_at": result["chain"][3]["approved_at"],
            "approvers": [reviewer.username, second_reviewer.username],
            "member_count": 2,
        },
    ]
    assert snapshot.created_at.isoformat() < result["chain"][3]["approved_at"] < output.released_at.isoformat()
    assert "prompt" not in json.dumps(result["chain"])  # what was asked for is not public


def test_a_consent_revoked_since_generation_makes_it_tainted_naming_the_consent_and_when(world, product, contributor, tmp_path):
    _, data = released(world, product)
    consent_revoke(consent_id=world.consent_id, actor=contributor, reason="withdrawn")
    # Revoking a consent revokes what hangs on it too (a depicted person's): each is named.
    revocations = ConsentEvent.objects.filter(kind="revoked").order_by("at", "consent_id")

    code, result = verify(write(tmp_path, "out.png", data))

    assert code == 1 and result["trusted"] is True and result["valid"] is True and result["traced_by"] == "manifest"
    assert [e for e in result["errors"] if e.startswith("snapshot_tainted")], result["errors"]
    assert result["chain"][-1]["status"] == "tainted" and result["chain"][1]["status"] == "flagged"
    assert result["verdict"] == "Tainted" and "withdrawn" in result["summary"]
    assert world.consent_id in {str(event.consent_id) for event in revocations}
    snapshot_id = str(world.snapshot.pk)
    assert result["taint"] == [
        {"snapshot_id": snapshot_id, "consent_id": str(event.consent_id), "event": "revoked", "at": event.at.isoformat()}
        for event in revocations
    ]
    assert result["failures"] == []  # nothing was tampered with


def test_a_consent_that_expired_since_generation_makes_it_tainted_saying_when_it_expired(world, product, contributor, tmp_path):
    _, data = released(world, product)
    expiry = timezone.now() + timedelta(seconds=1)
    consent_renew(consent_id=world.consent_id, actor=contributor, expires_at=expiry)
    time.sleep(max(0.0, (expiry - timezone.now()).total_seconds()) + 0.1)
    assert world.consent_id in consent_expire_due()

    code, result = verify(write(tmp_path, "out.png", data))

    assert code == 1 and (result["verdict"], result["valid"], result["trusted"]) == ("Tainted", True, True)
    ours = [entry for entry in result["taint"] if entry["consent_id"] == world.consent_id]
    assert ours == [
        {"snapshot_id": str(world.snapshot.pk), "consent_id": world.consent_id, "event": "expired", "at": expiry.isoformat()}
    ]


def test_tampered_pixels_a_tampered_assertion_and_a_tampered_ingredient_are_invalid_saying_where(world, product, tmp_path):
    output, data = released(world, product)

    code, pixels = verify(write(tmp_path, "pixels.png", tampered_png(data)))
    assert code == 1 and pixels["valid"] is False and pixels["trusted"] is False
    assert "assertion.dataHash.mismatch" in pixels["errors"]
    assert (pixels["verdict"], pixels["traced_by"], pixels["output_id"]) == ("Invalid", "manifest", str(output.pk))
    assert {"where": "the image's own manifest", "code": "assertion.dataHash.mismatch",
            "sentence": "The image's pixels or bytes were changed after it was signed."} in pixels["failures"]  # fmt: skip

    job_id = str(output.job_id)
    forged_job = job_id[:-4] + ("0000" if not job_id.endswith("0000") else "1111")
    code, assertion = verify(write(tmp_path, "assertion.png", png_with_changed_assertion(data, job_id, forged_job)))
    assert code == 1 and assertion["trusted"] is False and assertion["verdict"] == "Invalid"
    assert "assertion.hashedURI.mismatch" in assertion["errors"]

    # The training run's id is written only in the model's own manifest, nested in the image.
    run_id = str(world.model.training_run_id)
    forged_run = run_id[:-4] + ("0000" if not run_id.endswith("0000") else "1111")
    code, ingredient = verify(write(tmp_path, "ingredient.png", png_with_changed_assertion(data, run_id, forged_run)))
    assert code == 1 and (ingredient["valid"], ingredient["verdict"]) == (False, "Invalid")
    model_title = f"ingredient 'Cleanroom model {world.model.pk}' (model)"
    assert {(f["where"], f["code"]) for f in ingredient["failures"]} >= {(model_title, "ingredient.manifest.mismatch")}
    assert all(f["where"] != "the image's own manifest" for f in ingredient["failures"])


def test_a_foreign_signers_intact_image_is_valid_but_untrusted_naming_the_signer(db, pki, settings, tmp_path):
    mine = settings.CLEANROOM_SIGNER
    use_identity(settings, write_identity(tmp_path / "stranger", name="A stranger"))
    photo = io.BytesIO()
    Image.fromarray(samples.coffee()).resize((300, 200)).save(photo, "JPEG", quality=90)
    foreign = sign_image(
        image=photo.getvalue(), mime_type="image/jpeg", title="a coffee", assertions=[training_mining_assertion("allowed")],
        ingredients=[],
    )  # fmt: skip
    claimed = str(uuid.uuid4())
    claiming = sign_image(
        image=photo.getvalue(), mime_type="image/jpeg", title="a coffee, claimed as ours",
        assertions=[{"label": LINEAGE_LABEL, "data": {"output_id": claimed}}], ingredients=[],
    )  # fmt: skip
    settings.CLEANROOM_SIGNER = mine

    verdict = verify_image(foreign)
    tampered = verify_image(flip_byte_in_scan_data(foreign))

    assert (verdict.valid, verdict.trusted, verdict.traced_by, verdict.verdict) == (True, False, None, "Untrusted")
    assert verdict.signer == {
        "name": "A stranger signer", "issuer": "Cleanroom", "signed_at": None, "time_stamped": False, "trusted": False,
    }  # fmt: skip
    assert "'A stranger signer'" in verdict.summary
    assert verdict.failures == [
        {"where": "the image's own manifest", "code": "signingCredential.untrusted",
         "sentence": "Signed by a certificate this platform's trust list does not vouch for."}
    ]  # fmt: skip
    assert verdict.training_mining["entries"] == dict.fromkeys(
        ("ai_training", "ai_generative_training", "ai_inference", "data_mining"), "allowed"
    )
    assert verdict.errors[0].startswith("signingCredential.untrusted: signed by 'A stranger signer'")
    claim = verify_image(claiming)
    assert (claim.valid, claim.trusted, claim.traced_by, claim.verdict) == (True, False, None, "Untrusted")
    assert f"manifest.not_ours: the manifest claims output {claimed}, but this platform did not sign it" in claim.errors[-1]
    assert (tampered.valid, tampered.trusted, tampered.verdict) == (False, False, "Invalid")
    assert "assertion.dataHash.mismatch" in [f["code"] for f in tampered.failures]


def test_a_copy_of_ours_re_signed_by_a_stranger_is_recovered_from_our_chain_naming_the_stranger(
    world, product, settings, tmp_path
):
    """What wins: the soft binding. The foreign manifest's claim to be ours (our lineage, copied)
    proves nothing; the watermark finds the output, whose stored chain is judged; the file's own
    manifest answers `valid`, `trusted` and `signer`, and is named in the errors and failures."""
    output, data = released(world, product)
    ours = read_manifest(data, "image/png").active_manifest
    lineage = next(a for a in ours["assertions"] if a["label"] == "org.cleanroom.lineage")
    mine = settings.CLEANROOM_SIGNER
    use_identity(settings, write_identity(tmp_path / "forger", name="A forger"))
    pixels = io.BytesIO()
    Image.open(io.BytesIO(data)).save(pixels, "PNG")
    forged = sign_image(image=pixels.getvalue(), mime_type="image/png", title="forged", assertions=[lineage], ingredients=[])
    settings.CLEANROOM_SIGNER = mine

    code, result = verify(write(tmp_path, "forged.png", forged))

    assert code == 1 and (result["valid"], result["trusted"]) == (True, False)
    assert (result["verdict"], result["chain_state"], result["traced_by"], result["manifest"]) == (
        "Recovered", "Trusted", "watermark", "stored",
    )  # fmt: skip
    assert result["output_id"] == str(output.pk)
    assert (result["signer"]["name"], result["signer"]["trusted"]) == ("A forger signer", False)
    assert result["errors"][0].startswith("signingCredential.untrusted: the file's own manifest is signed by 'A forger signer'")
    assert ("the image's own manifest", "signingCredential.untrusted") in [(f["where"], f["code"]) for f in result["failures"]]
    assert result["training_mining"]["labels"] == ["cawg.training-mining"]  # ours, from the stored chain


def test_our_own_signature_over_malformed_lineage_is_reported_malformed(world, product, tmp_path):
    from generation.services.manifest import model_ingredient

    output, data = released(world, product, kind="text_to_image")
    ours = read_manifest(data, "image/png").active_manifest
    [lineage] = [a for a in ours["assertions"] if a["label"] == LINEAGE_LABEL]
    del lineage["data"]["merkle_root"]
    pixels = io.BytesIO()
    Image.open(io.BytesIO(data)).save(pixels, "PNG")
    resigned = sign_image(
        image=pixels.getvalue(), mime_type="image/png", title="re-signed", assertions=[lineage],
        ingredients=[model_ingredient(output.job.model)],
    )  # fmt: skip

    code, result = verify(write(tmp_path, "resigned.png", resigned))

    assert (code, result["trusted"], result["traced_by"], result["output_id"]) == (1, True, "manifest", str(output.pk))
    assert result["errors"] == ["chain.malformed: the lineage assertion has no merkle_root"]
    assert (result["verdict"], result["valid"]) == ("Invalid", True)  # intact, but at odds with our records
    assert result["failures"] == [
        {"where": "our records", "code": "chain.malformed",
         "sentence": "The credentials disagree with our records: the lineage assertion has no merkle_root."}
    ]  # fmt: skip


def test_a_stripped_copy_is_traced_through_its_soft_bindings(world, product, tmp_path):
    output, data = released(world, product)
    original = Image.open(io.BytesIO(data)).convert("RGB")

    resaved = io.BytesIO()
    original.save(resaved, "PNG")
    code, result = verify(write(tmp_path, "resaved.png", resaved.getvalue()))
    assert code == 0, result
    assert (result["traced_by"], result["manifest"], result["output_id"], result["trusted"]) == (
        "watermark",
        "stored",
        str(output.pk),
        True,
    )
    assert result["bindings"]["watermark"]["watermark_id"] == output.watermark_id
    assert result["bindings"]["watermark"]["backend"] == "rivagan"
    assert result["bindings"]["fingerprint"]["output_id"] == str(output.pk)
    assert [entry["type"] for entry in result["chain"]] == ["output", "model", "base_model", "snapshot"]
    assert (result["verdict"], result["chain_state"], result["valid"]) == ("Recovered", "Trusted", True)
    assert result["confidence"]["binding"] == "watermark" and result["confidence"]["level"] == "high"
    assert result["signer"]["name"] == "Cleanroom Content Credentials"  # the stored manifest's: the copy has none
    assert "invisible watermark" in result["summary"] and result["failures"] == []

    # Too small for the watermark's detector: the fingerprint alone finds it.
    thumbnail = io.BytesIO()
    original.resize((120, 120)).save(thumbnail, "JPEG", quality=90)
    code, result = verify(write(tmp_path, "thumbnail.jpg", thumbnail.getvalue()))
    assert code == 0, result
    assert (result["traced_by"], result["output_id"], result["verdict"], result["chain_state"]) == (
        "fingerprint", str(output.pk), "Recovered", "Trusted",
    )  # fmt: skip
    assert result["bindings"]["watermark"] is None
    assert result["confidence"]["binding"] == "fingerprint" and "distinctive points" in result["confidence"]["sentence"]


def test_an_image_that_is_not_ours_is_unknown_never_matched(world, product, tmp_path):
    released(world, product)
    stranger = io.BytesIO()
    Image.fromarray(samples.coffee()).save(stranger, "JPEG", quality=90)

    code, result = verify(write(tmp_path, "coffee.jpg", stranger.getvalue()))

    assert code == 1
    assert (result["traced_by"], result["output_id"], result["chain"], result["trusted"]) == (None, None, [], False)
    assert any(error.startswith("unknown") for error in result["errors"])
    assert (result["verdict"], result["valid"], result["signer"], result["training_mining"], result["failures"]) == (
        "Unknown", False, None, None, [],
    )  # fmt: skip
    assert result["summary"].startswith("We found no Content Credentials")


def test_a_file_that_is_not_an_image_is_refused_with_a_reason(db, tmp_path):
    code, result = verify(write(tmp_path, "notes.png", b"this is not an image"))

    assert code == 1 and result["code"] == "invalid_image"


def test_with_the_trustmark_backend_a_stripped_copy_is_traced_by_its_trustmark(world, product, tmp_path, settings):
    from generation.watermarks.trustmark import ALGORITHM
    from tests.generation.tiny_trustmark import build_tiny_trustmark

    settings.CLEANROOM_WATERMARK = {
        "BACKEND": "trustmark",
        "TRUSTMARK_MODEL_DIR": str(build_tiny_trustmark(tmp_path / "trustmark")),
        "TRUSTMARK_ALLOW_UNPUBLISHED": True,
    }
    output, data = released(world, product)
    assert output.watermark_embedded, output.watermark_note
    assertions = read_manifest(data, "image/png").active_manifest["assertions"]
    algorithms = [a["data"]["alg"] for a in assertions if a["label"] == "c2pa.soft-binding"]
    assert algorithms == [ALGORITHM, FINGERPRINT_ALGORITHM]

    # Re-saved without its manifest, losslessly: the tests' tiny TrustMark is a set of sign
    # patterns whose survival of a JPEG depends on the picture, and the picture on which tests
    # ran before in the session (it failed after tests/generation/test_jobs.py, as JPEG q90).
    resaved = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(resaved, "PNG")
    code, result = verify(write(tmp_path, "resaved.png", resaved.getvalue()))

    assert code == 0, result
    assert (result["traced_by"], result["output_id"], result["trusted"]) == ("watermark", str(output.pk), True)
    assert result["bindings"]["watermark"]["backend"] == "trustmark"
