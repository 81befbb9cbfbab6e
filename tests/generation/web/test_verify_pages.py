"""The public verify page through Django's test client: anyone posts an image, is sent to the
result's permalink, and reads the verdict there for 24 hours; the upload is never kept; bad
files get a plain answer on the form, never a 500; the page shares the API's rate; a worker
signs the report, which any C2PA reader finds Trusted."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.throttling import ScopedRateThrottle

from config.celery import app
from core.storage import blob_exists
from generation.models import Verification
from generation.services.verification import verification_run
from generation.services.verification_results import REPORT_DOCUMENT, verification_report_sign
from generation.tasks import verification_report
from provenance.c2pa.manifests import container_files, read_manifest
from tests.generation.factories import blob_files, files_holding, released
from tests.support.pages import client

pytestmark = pytest.mark.django_db
VERIFY = "/verify/"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def post_image(web: Client, data: bytes, name: str = "image.png", content_type: str = "image/png"):
    return web.post(VERIFY, {"image": SimpleUploadedFile(name, data, content_type)})


def alert(html: str) -> str:
    found = re.search(r'role="alert"[^>]*>(.*?)</', html, re.S)
    assert found, "the page has no alert"
    return found.group(1)


def stripped(data: bytes) -> bytes:
    """A Pillow re-save: the manifest is gone, the watermark and fingerprint remain."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def upload_temp_dir(settings, tmp_path) -> Path:
    """Where Django writes the request's uploaded files while it lasts."""
    folder = tmp_path / "upload-tmp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def nothing_kept(data: bytes, settings, upload_temp_dir: Path) -> None:
    assert not blob_exists(hashlib.sha256(data).hexdigest())
    assert files_holding(Path(settings.CLEANROOM_VERIFY_SPOOL_DIR), data) == []
    assert list(upload_temp_dir.iterdir()) == []


def test_anyone_gets_the_form_with_the_image_field_and_the_verify_button():
    html = client().get(VERIFY).content.decode()

    assert re.search(r'<label for="id_image">Image</label>', html)
    assert 'type="file" name="image"' in html and ">Verify</button>" in html
    assert 'enctype="multipart/form-data"' in html


def test_a_released_output_is_answered_at_once_and_its_permalink_shows_the_chain(world, product, settings, upload_temp_dir):
    output, data = released(world, product)
    blobs_before = blob_files()

    response = post_image(client(), data)

    verification = Verification.objects.get()
    assert response.status_code == 303 and response["Location"] == f"/verify/{verification.pk}/"
    html = client().get(response["Location"]).content.decode()
    assert 'id="verdict-word">Trusted<' in html
    for kind, pk in (
        ("output", output.pk),
        ("model", world.model.pk),
        ("base_model", world.model.base_model.pk),
        ("snapshot", world.snapshot.pk),
    ):
        assert re.search(rf'chain-node__type">{kind}</span> <code class="chain-node__id">{pk}</code>', html), kind
    assert world.snapshot.merkle_root in html
    assert "hx-get" not in html  # settled: nothing to poll
    # Never stored: no new blob (the output's own was there before), no spool file, no temporary upload.
    assert blob_files() == blobs_before
    assert files_holding(Path(settings.CLEANROOM_VERIFY_SPOOL_DIR), data) == []
    assert list(upload_temp_dir.iterdir()) == []


def test_a_stripped_copy_is_searched_by_a_worker_while_the_page_polls_then_recovered(world, product, settings, upload_temp_dir):
    output, data = released(world, product)
    copy = stripped(data)

    response = post_image(client(), copy, name="copy.png")

    verification = Verification.objects.get()
    waiting = client().get(response["Location"]).content.decode()
    assert verification.status == "queued" and "<progress" in waiting and 'hx-trigger="every 1s"' in waiting
    assert '<meta http-equiv="refresh"' in waiting  # without JavaScript
    assert files_holding(Path(settings.CLEANROOM_VERIFY_SPOOL_DIR), copy) != []  # waiting for its worker, only there

    assert verification_run(verification_id=verification.pk, task_id=verification.task_id) == "done"

    partial = client().get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial  # htmx asks for the status block alone
    assert 'id="verdict-word">Recovered<' in partial and str(output.pk) in partial
    assert "hx-get" not in partial  # the polling stops
    nothing_kept(copy, settings, upload_temp_dir)


def test_an_unknown_id_is_not_found_and_an_old_result_has_expired(world, product):
    _, data = released(world, product)
    post_image(client(), data)
    verification = Verification.objects.get()

    assert client().get("/verify/00000000-0000-4000-8000-000000000000/").status_code == 404
    Verification.objects.filter(pk=verification.pk).update(created_at=verification.created_at - timedelta(hours=24, seconds=1))
    expired = client().get(f"/verify/{verification.pk}/")
    assert expired.status_code == 410 and "This result has expired" in expired.content.decode()
    assert client().get(f"/verify/{verification.pk}/report/").status_code == 410


def test_a_result_stored_before_the_verdict_said_its_word_is_not_guessed_again(world, product):
    _, data = released(world, product)
    post_image(client(), data)
    verification = Verification.objects.get()
    earlier = {
        key: value for key, value in verification.verdict.items() if key in ("valid", "trusted", "traced_by", "chain", "errors")
    }
    Verification.objects.filter(pk=verification.pk).update(verdict=earlier)

    page = client().get(f"/verify/{verification.pk}/")

    assert page.status_code == 410
    assert "answered by an earlier version of Cleanroom" in page.content.decode()


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("empty.png", b"", "empty"),
        ("notes.txt", b"just some words, not an image", "not an image we can read"),
        ("drawing.svg", SVG, "SVG"),
    ],
)
def test_a_file_that_is_not_an_image_gets_a_plain_answer_on_the_form(name, data, words, pki, upload_temp_dir):
    response = post_image(client(), data, name=name, content_type="application/octet-stream")

    html = response.content.decode()
    assert response.status_code == 400 and words in alert(html)
    assert 'name="image"' in html and ">Verify</button>" in html  # the form is still there
    assert not Verification.objects.exists() and list(upload_temp_dir.iterdir()) == []


def test_a_zip_bomb_and_a_decompression_bomb_are_refused_in_plain_words(pki):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * (64 * 1024 * 1024))
    huge = io.BytesIO()
    Image.new("L", (8192, 8192)).save(huge, "PNG")  # 67 million pixels in a few kilobytes

    as_zip = post_image(client(), bomb.getvalue(), name="photos.zip", content_type="application/zip")
    as_png = post_image(client(), huge.getvalue(), name="huge.png")

    assert as_zip.status_code == 400 and "not an image we can read" in alert(as_zip.content.decode())
    assert as_png.status_code == 413 and "too large to verify" in alert(as_png.content.decode())
    assert not Verification.objects.exists()


def test_a_body_over_the_limit_is_refused_from_its_declared_length(settings, pki):
    settings.CLEANROOM_VERIFY_MAX_BYTES = 10_000

    over = post_image(client(), b"\x89PNG" + b"0" * 200_000)
    just_over = post_image(client(), b"\x89PNG" + b"0" * 10_000)

    assert over.status_code == 413 and "too large to verify" in alert(over.content.decode())
    assert just_over.status_code == 413 and "too large to verify" in alert(just_over.content.decode())
    assert not Verification.objects.exists()


def test_the_page_checks_its_csrf_token(pki):
    strict = Client(enforce_csrf_checks=True)

    assert strict.post(VERIFY, {"image": SimpleUploadedFile("a.png", b"x")}).status_code == 403


def test_the_page_and_the_api_share_the_clients_verify_rate(settings, pki):
    limit, _ = ScopedRateThrottle().parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["verify"])
    web = client()
    for _ in range(limit - 1):
        assert web.post("/api/v1/verify/", {"file": SimpleUploadedFile("x.png", b"not an image")}).status_code == 400
    assert post_image(web, b"not an image").status_code == 400

    refused = post_image(web, b"not an image")

    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert re.search(r"try again in \d+ seconds?", alert(refused.content.decode()))


def test_a_worker_signs_the_report_which_a_c2pa_reader_finds_trusted(world, product, settings):
    _, data = released(world, product)
    result = post_image(client(), data)["Location"]
    verification = Verification.objects.get()
    assert "Prepare a signed report" in client().get(result).content.decode()

    asked = client().post(f"{result}report/")

    assert asked.status_code == 303 and asked["Location"] == f"{result}report/"
    signing = client().get(asked["Location"]).content.decode()
    assert "<progress" in signing and "hx-get" in signing
    assert client().get(f"{result}report/file/").status_code == 404  # not signed yet
    assert verification_report_sign(verification_id=verification.pk) == "ready"  # what the worker does

    ready = client().get(asked["Location"]).content.decode()
    assert "Download the signed report" in ready and "hx-get" not in ready
    download = client().get(f"{result}report/file/")
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    reading = read_manifest(download.content, "application/x-zip")
    assert reading.state == "Trusted", reading.errors
    document = json.loads(container_files(download.content)[REPORT_DOCUMENT])
    verification.refresh_from_db()
    assert document["verification_id"] == str(verification.pk)
    assert document["image_sha256"] == hashlib.sha256(data).hexdigest()
    assert document["result"] == verification.verdict
    anchors = Path(settings.CLEANROOM_SIGNER["TRUST_ANCHORS"]).read_bytes()
    assert document["platform"]["trust_anchors_sha256"] == hashlib.sha256(anchors).hexdigest()
    assert data not in download.content  # the report names the image, never holds it


def test_a_report_is_not_offered_before_the_verification_ends(pki):
    noise = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(noise, "PNG")
    result = post_image(client(), noise.getvalue())["Location"]

    refused = client().post(f"{result}report/")

    assert refused.status_code == 409 and "not finished" in alert(refused.content.decode())


def test_the_report_is_signed_by_a_default_worker_never_the_audit_or_gpu_ones(pki):
    route = app.amqp.router.route({}, "generation.verification_report")
    noise = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(noise, "PNG")
    verification = Verification.objects.get(pk=post_image(client(), noise.getvalue())["Location"].split("/")[2])
    verification_run(verification_id=verification.pk, task_id=verification.task_id)

    assert route["queue"].name.endswith("default")
    assert verification_report.apply(args=[str(verification.pk)], kwargs={"from_a_later_release": 1}).get() == "ready"
    assert read_manifest(client().get(f"/verify/{verification.pk}/report/file/").content, "application/x-zip").trusted


def test_a_report_the_worker_cannot_sign_is_explained_and_may_be_asked_for_again(pki, settings, tmp_path):
    noise = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(noise, "PNG")
    result = post_image(client(), noise.getvalue())["Location"]
    verification = Verification.objects.get()
    verification_run(verification_id=verification.pk, task_id=verification.task_id)
    client().post(f"{result}report/")
    settings.CLEANROOM_SIGNER = {**settings.CLEANROOM_SIGNER, "KEY": str(tmp_path / "no-such-key.pem")}

    assert verification_report_sign(verification_id=verification.pk) == "failed"

    page = client().get(f"{result}report/").content.decode()
    assert "could not be signed" in alert(page) and "Prepare a signed report" in page
    assert client().post(f"{result}report/").status_code == 303
    verification.refresh_from_db()
    assert verification.report_error == "" and verification.report_requested_at is not None
