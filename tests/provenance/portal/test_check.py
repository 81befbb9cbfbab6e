"""'Was my image used?' (/portal/check/) through the test client: carla's image in the world's
snapshot, found by picking it or by dropping its file; nobody else's file is an answer."""

from __future__ import annotations

import io
import json
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from core.storage import blob_open
from provenance.services.snapshots import snapshot_approve
from tests.generation.factories import blob_files, released
from tests.provenance.factories import image_bytes
from tests.support.merkle_doc import check_with_doc
from tests.support.pages import client
from tests.support.worlds import approved_snapshot

CHECK = "/portal/check/"


def carla_bytes(world) -> bytes:
    with blob_open(world.asset.sha256) as handle:
        return handle.read()


def drop(user, data: bytes, name: str = "photo.jpg"):
    return client(user).post(CHECK, {"image": SimpleUploadedFile(name, data, "image/jpeg")})


def proof_url(asset, snapshot) -> str:
    return f"/portal/check/{asset.pk}/proof/{snapshot.pk}.json"


def answer(html: str) -> str:
    """The page without what differs between two renderings (the CSRF token)."""
    return re.sub(r'(name="csrfmiddlewaretoken" value=|"X-CSRFToken": )"[^"]+"', r"\1''", html)


def test_a_contributor_sees_the_snapshot_that_includes_their_image(world, contributor):
    page = client(contributor).get(CHECK, {"asset": str(world.asset.pk)})

    html = page.content.decode()
    assert page.status_code == 200
    assert "<strong>included</strong>" in html
    assert str(world.snapshot.pk) in html and world.snapshot.merkle_root in html
    assert "in_review" in html and "nobody yet" in html
    assert f'href="{proof_url(world.asset, world.snapshot)}"' in html and "Download proof" in html
    assert "No model has been trained on this snapshot." in html


def test_the_page_offers_their_own_images_to_pick_and_nobody_elses(world, contributor, other_contributor):
    assert str(world.asset.pk) in client(contributor).get(CHECK).content.decode()
    others_page = client(other_contributor).get(CHECK).content.decode()
    assert str(world.asset.pk) not in others_page and "You have not uploaded any images yet." in others_page


def test_a_dropped_copy_of_their_image_finds_it_and_stores_nothing(world, contributor, settings, tmp_path):
    # No temporary folder to write to: a handler that spilled the upload to disk would fail here.
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "no-such-folder")
    stored_before = blob_files()

    page = drop(contributor, carla_bytes(world), "my-photo.jpg")

    assert page.status_code == 200
    assert "<strong>included</strong>" in page.content.decode()
    assert str(world.asset.pk) in page.content.decode()
    assert blob_files() == stored_before
    assert not (tmp_path / "no-such-folder").exists()


def test_someone_elses_file_and_nobodys_file_get_the_same_answer(world, contributor, other_contributor):
    carlas = drop(other_contributor, carla_bytes(world))
    nobodys = drop(other_contributor, image_bytes(seed=99))

    assert carlas.status_code == nobodys.status_code == 200
    assert "This image was not found among your images." in carlas.content.decode()
    assert answer(carlas.content.decode()) == answer(nobodys.content.decode())
    assert str(world.asset.pk) not in carlas.content.decode() and world.snapshot.merkle_root not in carlas.content.decode()


def test_another_contributors_image_id_reads_as_not_found(world, other_contributor):
    for asked in (str(world.asset.pk), "not-an-id", "00000000-0000-0000-0000-000000000000"):
        page = client(other_contributor).get(CHECK, {"asset": asked})
        assert page.status_code == 200
        assert "not found among your images" in page.content.decode()
        assert world.snapshot.merkle_root not in page.content.decode()


def test_an_empty_file_or_none_is_refused_in_words(world, contributor):
    empty = drop(contributor, b"", "empty.jpg")
    nothing = client(contributor).post(CHECK, {})

    assert empty.status_code == nothing.status_code == 200
    assert re.search(r'role="alert">That file is empty', empty.content.decode())
    assert re.search(r'role="alert">Choose an image file to check.', nothing.content.decode())


def test_the_downloaded_proof_is_what_snapshot_prove_prints_and_the_doc_checks_it(world, contributor, tmp_path):
    image = tmp_path / "carla.jpg"
    image.write_bytes(carla_bytes(world))

    download = client(contributor).get(proof_url(world.asset, world.snapshot))
    printed = io.StringIO()
    call_command("snapshot", "prove", str(world.snapshot.pk), str(image), "--json", stdout=printed)

    assert download.status_code == 200 and download["Content-Type"] == "application/json"
    assert "attachment" in download["Content-Disposition"]
    assert download.content.decode() == printed.getvalue().strip()
    proof = tmp_path / "proof.json"
    proof.write_bytes(download.content)
    assert json.loads(proof.read_text())["included"] is True
    assert check_with_doc(proof, image) == "included"
    # One changed byte in the image, and the doc's checker says so.
    image.write_bytes(image.read_bytes() + b"\0")
    assert "AssertionError" in check_with_doc(proof, image)


def test_a_proof_answers_404_unless_the_image_is_theirs_and_in_that_snapshot(
    world, contributor, other_contributor, ml_engineer, reviewer, second_reviewer
):
    assert client(other_contributor).get(proof_url(world.asset, world.snapshot)).status_code == 404
    # A snapshot of other images, and a snapshot that does not exist.
    elsewhere = approved_snapshot(ml_engineer, reviewer, second_reviewer, count=2).snapshot
    assert client(contributor).get(proof_url(world.asset, elsewhere)).status_code == 404
    missing = f"/portal/check/{world.asset.pk}/proof/{uuid.uuid4()}.json"
    assert client(contributor).get(missing).status_code == 404


def test_the_page_explains_how_to_check_a_proof_offline(world, contributor):
    page = client(contributor).get(CHECK)
    assert 'href="/portal/check/how-to-check-a-proof/"' in page.content.decode()

    howto = client(contributor).get("/portal/check/how-to-check-a-proof/").content.decode()
    assert "RFC 9162" in howto and "hashlib.sha256(b&quot;\\x00&quot;" in howto


@pytest.mark.slow
def test_the_answer_counts_the_models_trained_on_the_snapshot_and_their_outputs(
    cpu_model_world, contributor, reviewer, second_reviewer, product
):
    trained = cpu_model_world
    released(trained, product)
    asset = trained.snapshot.members.first().asset

    html = client(contributor).get(CHECK, {"asset": str(asset.pk)}).content.decode()

    assert "1 model was trained on it and made 1 image." in html
    assert str(trained.model.pk) in html
    assert "approved" in html and f"{reviewer.username}, {second_reviewer.username}" in html


def test_approvals_show_as_they_come(world, contributor, reviewer):
    snapshot_approve(snapshot_id=str(world.snapshot.pk), reviewer=reviewer)

    html = client(contributor).get(CHECK, {"asset": str(world.asset.pk)}).content.decode()

    assert f"<dd>{reviewer.username}</dd>" in html


def test_a_drop_without_the_forms_csrf_token_is_refused(world, contributor):
    # The page checks the token itself (after setting its hashing upload handler), not the middleware.
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(contributor)

    refused = forged.post(CHECK, {"image": SimpleUploadedFile("photo.jpg", image_bytes(seed=5), "image/jpeg")})

    assert refused.status_code == 403
    page = forged.get(CHECK)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    accepted = forged.post(
        CHECK, {"csrfmiddlewaretoken": token, "image": SimpleUploadedFile("photo.jpg", image_bytes(seed=5), "image/jpeg")}
    )
    assert accepted.status_code == 200 and "not found among your images" in accepted.content.decode()
