"""`verify FILE`: an output proves its chain; stripped copies are traced; tampering, foreign
signers, taint and strangers are each reported. Driven through the command line contract."""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image
from skimage import data as samples

from provenance.c2pa.lineage import LINEAGE_LABEL
from provenance.c2pa.manifests import read_manifest, sign_image
from provenance.services.consent import consent_revoke
from tests.generation.factories import SIZE, released
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


# -- PNG surgery that keeps the manifest chunk (a Pillow re-save would drop it) ------------------
def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 12 + length
    return chunks


def _png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d)) for k, d in chunks)
    return b"\x89PNG\r\n\x1a\n" + body


def with_changed_pixels(data: bytes) -> bytes:
    chunks = _chunks(data)
    raw = bytearray(zlib.decompress(b"".join(d for k, d in chunks if k == b"IDAT")))
    for offset in range(1000, 1400):  # inside the scanlines' pixel bytes
        raw[offset] ^= 0x40
    rebuilt, placed = [], False
    for kind, body in chunks:
        if kind != b"IDAT":
            rebuilt.append((kind, body))
        elif not placed:
            rebuilt.append((b"IDAT", zlib.compress(bytes(raw))))
            placed = True
    return _png(rebuilt)


def with_changed_assertion(data: bytes, old: str, new: str) -> bytes:
    chunks = [(k, d.replace(old.encode(), new.encode()) if k == b"caBX" else d) for k, d in _chunks(data)]
    assert any(k == b"caBX" and new.encode() in d for k, d in chunks)
    return _png(chunks)


# -- the tests -----------------------------------------------------------------------------------
def test_a_released_output_verifies_trusted_with_its_whole_chain(world, product, tmp_path):
    output, data = released(world, product)

    code, result = verify(write(tmp_path, "out.png", data))

    assert code == 0, result
    assert (result["valid"], result["trusted"], result["traced_by"], result["errors"]) == (True, True, "manifest", [])
    model, snapshot = world.model, world.snapshot
    assert result["chain"] == [
        {"type": "output", "id": str(output.pk), "sha256": output.sha256, "job_id": str(output.job_id)},
        {"type": "model", "id": str(model.pk), "sha256": model.sha256},
        {
            "type": "base_model",
            "id": str(model.base_model.pk),
            "sha256": model.base_model.sha256,
            "name": "tiny-sd",
            "status": "approved",
        },
        {
            "type": "snapshot",
            "id": str(snapshot.pk),
            "merkle_root": snapshot.merkle_root,
            "sha256": snapshot.container_sha256,
            "status": "approved",
        },
    ]


def test_a_snapshot_tainted_since_generation_is_an_error_in_the_chain(world, product, contributor, tmp_path):
    _, data = released(world, product)
    consent_revoke(consent_id=world.consent_id, actor=contributor, reason="withdrawn")

    code, result = verify(write(tmp_path, "out.png", data))

    assert code == 1 and result["trusted"] is True and result["traced_by"] == "manifest"
    assert [e for e in result["errors"] if e.startswith("snapshot_tainted")], result["errors"]
    assert result["chain"][-1]["status"] == "tainted"


def test_tampered_pixels_and_a_tampered_assertion_are_reported_with_the_validator_codes(world, product, tmp_path):
    output, data = released(world, product)

    code, pixels = verify(write(tmp_path, "pixels.png", with_changed_pixels(data)))
    assert code == 1 and pixels["valid"] is False and pixels["trusted"] is False
    assert "assertion.dataHash.mismatch" in pixels["errors"]

    job_id = str(output.job_id)
    forged_job = job_id[:-4] + ("0000" if not job_id.endswith("0000") else "1111")
    code, assertion = verify(write(tmp_path, "assertion.png", with_changed_assertion(data, job_id, forged_job)))
    assert code == 1 and assertion["trusted"] is False
    assert "assertion.hashedURI.mismatch" in assertion["errors"]


def test_a_foreign_signer_copying_our_lineage_is_not_trusted(world, product, settings, tmp_path):
    _, data = released(world, product)
    ours = read_manifest(data, "image/png").active_manifest
    lineage = next(a for a in ours["assertions"] if a["label"] == "org.cleanroom.lineage")
    mine = settings.CLEANROOM_SIGNER
    use_identity(settings, write_identity(tmp_path / "forger", name="A forger"))
    pixels = io.BytesIO()
    Image.open(io.BytesIO(data)).save(pixels, "PNG")
    forged = sign_image(image=pixels.getvalue(), mime_type="image/png", title="forged", assertions=[lineage], ingredients=[])
    settings.CLEANROOM_SIGNER = mine

    code, result = verify(write(tmp_path, "forged.png", forged))

    assert code == 1 and result["trusted"] is False
    assert any(error.startswith("signingCredential.untrusted") for error in result["errors"]), result["errors"]


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

    smaller = io.BytesIO()
    original.resize((SIZE // 2, SIZE // 2)).save(smaller, "JPEG", quality=75)
    code, result = verify(write(tmp_path, "smaller.jpg", smaller.getvalue()))
    assert code == 0, result
    assert result["traced_by"] in ("watermark", "fingerprint") and result["output_id"] == str(output.pk)


def test_an_image_that_is_not_ours_is_unknown_never_matched(world, product, tmp_path):
    released(world, product)
    stranger = io.BytesIO()
    Image.fromarray(samples.coffee()).save(stranger, "JPEG", quality=90)

    code, result = verify(write(tmp_path, "coffee.jpg", stranger.getvalue()))

    assert code == 1
    assert (result["traced_by"], result["output_id"], result["chain"], result["trusted"]) == (None, None, [], False)
    assert any(error.startswith("unknown") for error in result["errors"])


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
    assert algorithms == [ALGORITHM, "org.cleanroom.fingerprint.v2"]

    resaved = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(resaved, "JPEG", quality=90)
    code, result = verify(write(tmp_path, "resaved.jpg", resaved.getvalue()))

    assert code == 0, result
    assert (result["traced_by"], result["output_id"], result["trusted"]) == ("watermark", str(output.pk), True)
    assert result["bindings"]["watermark"]["backend"] == "trustmark"
