from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from provenance.c2pa.manifests import (
    Ingredient,
    container_files,
    read_manifest,
    sign_container,
    sign_image,
    validation_failures,
)
from tests.provenance.ingest import images
from tests.support.pki import use_identity, write_identity

LINEAGE = {"label": "org.cleanroom.lineage", "data": {"snapshot_id": "11111111-2222-3333-4444-555555555555", "job_id": "j-1"}}


def sign(data: bytes, mime_type: str, **options) -> bytes:
    return sign_image(image=data, mime_type=mime_type, title="output", assertions=[LINEAGE], ingredients=[], **options)


@pytest.mark.parametrize(("mime_type", "image_format"), [("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/webp", "WEBP")])
def test_an_image_is_signed_as_trained_algorithmic_media_and_reads_trusted(identity, mime_type, image_format):
    signed = sign(images.encode(images.solid_image(), image_format), mime_type)

    reading = read_manifest(signed, mime_type)

    assert reading.state == "Trusted" and reading.trusted and reading.errors == []
    actions = next(a for a in reading.active_manifest["assertions"] if a["label"] == "c2pa.actions.v2")
    assert actions["data"]["actions"][0]["action"] == "c2pa.created"
    assert actions["data"]["actions"][0]["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert Image.open(io.BytesIO(signed)).size == (32, 32)


def test_images_carry_no_thumbnail_unless_asked(identity):
    without = read_manifest(sign(images.jpeg_bytes(), "image/jpeg"), "image/jpeg")
    with_thumbnail = read_manifest(sign(images.jpeg_bytes(), "image/jpeg", thumbnail=True), "image/jpeg")

    assert "thumbnail" not in without.active_manifest
    assert with_thumbnail.active_manifest["thumbnail"]["format"] == "image/jpeg"


def test_changed_pixels_are_reported_with_the_data_hash_code(identity):
    tampered = images.flip_byte_in_scan_data(sign(images.jpeg_bytes(), "image/jpeg"))

    reading = read_manifest(tampered, "image/jpeg")

    assert reading.state == "Invalid" and not reading.trusted
    assert "assertion.dataHash.mismatch" in reading.errors


def test_an_edited_assertion_is_reported_with_the_hashed_uri_code(identity):
    signed = sign(images.jpeg_bytes(), "image/jpeg")
    assert signed.count(b"11111111-2222") == 1  # the lineage assertion's CBOR, inside the JUMBF

    reading = read_manifest(signed.replace(b"11111111-2222", b"99999999-2222"), "image/jpeg")

    assert reading.state == "Invalid"
    assert "assertion.hashedURI.mismatch" in reading.errors


def test_a_manifest_from_another_pki_is_valid_but_never_trusted(identity, settings, tmp_path):
    use_identity(settings, write_identity(tmp_path / "foreign", name="Somebody else"))
    foreign = sign(images.png_bytes(), "image/png")
    use_identity(settings, identity)

    reading = read_manifest(foreign, "image/png")

    assert reading.state == "Valid" and not reading.trusted
    assert "signingCredential.untrusted" in reading.errors


def test_a_file_without_a_manifest_reads_as_not_found(identity):
    resaved = images.encode(images.open_image(sign(images.png_bytes(), "image/png")), "PNG")

    for data in (images.png_bytes(), resaved):
        reading = read_manifest(data, "image/png")
        assert (reading.found, reading.state, reading.trusted, reading.active_label) == (False, None, False, None)


def test_a_manifest_that_cannot_be_read_is_found_but_has_no_state(identity):
    broken = images.break_manifest_claim(sign(images.png_bytes(), "image/png"))

    reading = read_manifest(broken, "image/png")

    assert reading.found and reading.state is None and not reading.trusted
    assert "claim" in reading.problem


def test_a_container_keeps_its_files_and_its_assertions(identity):
    files = {"snapshot.json": b'{"id": "s-1"}', "members.csv": b"a,b\n"}
    assertion = {"label": "org.cleanroom.snapshot", "data": {"merkle_root": "ab" * 32}}

    container = sign_container(files=files, title="snapshot s-1", assertions=[assertion])
    reading = read_manifest(container, "application/x-zip")

    assert reading.state == "Trusted" and reading.active_manifest["title"] == "snapshot s-1"
    assert container_files(container) == files
    assert any(
        a["label"] == "org.cleanroom.snapshot" and a["data"] == assertion["data"] for a in reading.active_manifest["assertions"]
    )


def test_a_changed_container_member_breaks_the_collection_hash(identity):
    container = sign_container(files={"snapshot.json": b'{"merkle_root": "aaaa"}'}, title="s", assertions=[])

    reading = read_manifest(container.replace(b'"aaaa"', b'"bbbb"'), "application/x-zip")

    assert reading.state == "Invalid" and "assertion.collectionHash.mismatch" in reading.errors


def test_container_member_names_cannot_escape_or_replace_the_manifest(identity):
    for name in ("../evil", "/etc/passwd", "META-INF/content_credential.c2pa"):
        with pytest.raises(ValueError):
            sign_container(files={name: b"x"}, title="s", assertions=[])


def test_a_reference_ingredient_without_bytes_keeps_its_metadata(identity):
    base = Ingredient(
        title="tiny-sd",
        mime_type="application/octet-stream",
        data_types=["c2pa.types.model"],
        metadata={"org.cleanroom.sha256": "ee" * 32},
    )

    reading = read_manifest(
        sign_container(files={"m": b"1"}, title="model", assertions=[], ingredients=[base]), "application/x-zip"
    )

    [ingredient] = reading.active_manifest["ingredients"]
    assert ingredient["relationship"] == "inputTo" and ingredient["metadata"] == {"org.cleanroom.sha256": "ee" * 32}
    assert ingredient["data_types"] == [{"type": "c2pa.types.model"}] and "active_manifest" not in ingredient


def test_signing_works_in_a_forked_worker_after_the_parent_signed(identity):
    sign(images.png_bytes(), "image/png")  # the parent now holds a signing context

    child = os.fork()
    if child == 0:  # Celery's prefork pool does this
        code = 1
        try:
            code = 0 if read_manifest(sign(images.png_bytes(), "image/png"), "image/png").trusted else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0


def test_an_image_to_image_source_is_a_component_of_a_composite(identity):
    source = images.png_bytes()
    component = Ingredient(title="source.png", mime_type="image/png", data=source, relationship="componentOf")

    signed = sign_image(
        image=images.png_bytes(),
        mime_type="image/png",
        title="inpainted",
        assertions=[],
        ingredients=[component],
        digital_source_type="compositeWithTrainedAlgorithmicMedia",
    )

    reading = read_manifest(signed, "image/png")
    assert reading.trusted
    assert reading.active_manifest["ingredients"][0]["relationship"] == "componentOf"
    with pytest.raises(ValueError):
        sign_image(
            image=images.png_bytes(),
            mime_type="image/png",
            title="t",
            assertions=[],
            ingredients=[Ingredient(title="source.png", mime_type="image/png", data=source, relationship="parentOf")],
        )
    with pytest.raises(ValueError):
        Ingredient(title="x", mime_type="image/png", relationship="derivedFrom")


def test_unsupported_formats_and_source_types_are_refused(identity):
    with pytest.raises(ValueError):
        sign_image(image=b"GIF89a", mime_type="image/gif", title="t", assertions=[], ingredients=[])
    with pytest.raises(ValueError):
        sign(images.png_bytes(), "image/png", digital_source_type="handPainted")


def test_changed_pixels_break_integrity_whoever_signed_and_a_foreign_signer_alone_does_not(identity, settings, tmp_path):
    ours = read_manifest(images.flip_byte_in_scan_data(sign(images.jpeg_bytes(), "image/jpeg")), "image/jpeg")
    use_identity(settings, write_identity(tmp_path / "foreign", name="Somebody else"))
    foreign = sign(images.jpeg_bytes(), "image/jpeg")
    use_identity(settings, identity)

    assert not ours.intact and [f.code for f in validation_failures(ours)] == ["assertion.dataHash.mismatch"]
    assert validation_failures(ours)[0].where == "the image's own manifest"
    assert read_manifest(foreign, "image/jpeg").intact
    assert not read_manifest(images.flip_byte_in_scan_data(foreign), "image/jpeg").intact
    assert not read_manifest(images.png_bytes(), "image/png").intact  # no manifest at all
