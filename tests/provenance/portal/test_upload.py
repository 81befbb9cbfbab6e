"""The portal's upload page through the test client: the plain form post (every file at once),
the script's requests (one file each), and each kind of bad input answered in words."""

from __future__ import annotations

import re
import tracemalloc
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import ClientHandler
from django.utils import timezone

from core.background import background_run
from core.models import BackgroundJob
from provenance.models import Asset, UploadedFile, UploadSession
from provenance.services.consent import consent_revoke
from provenance.services.datasets import dataset_create
from provenance.services.portal_upload import staging_root, upload_sessions_sweep
from tests.provenance.factories import grant_consent, image_bytes, write_multipart
from tests.support.pages import client
from tests.support.portal_uploads import expected_reasons, mixed_batch

UPLOAD = "/portal/upload/"


def files_of(batch: dict[str, bytes]) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name, data) for name, data in batch.items()]


def form(world, files, **overrides) -> dict:
    return {"dataset": str(world.dataset.pk), "consent": str(world.consent.pk), "images": files, **overrides}


def outcome_rows(html: str) -> dict[str, tuple[str, str]]:
    """The outcome table as {file: (accepted|refused, reason word)}."""
    rows = re.findall(
        r'<th scope="row"[^>]*>([^<]+)</th>\s*<td><span[^>]*>(accepted|refused)</span></td>\s*<td>(?:<code>(\w+)</code>)?', html
    )
    return {name: (word, reason) for name, word, reason in rows}


def finish(web, response) -> str:
    """Run the job the post started (what the worker does), then read the upload's page."""
    assert response.status_code == 302, response.content[:500]
    background_run(BackgroundJob.objects.latest("created_at").pk)
    page = web.get(response["Location"])
    assert page.status_code == 200
    return page.content.decode()


def test_the_page_has_the_contract_fields_and_only_carlas_choices(world, contributor, other_contributor):
    grant_consent(other_contributor, "otto@example.com")
    html = client(contributor).get(UPLOAD).content.decode()
    assert re.search(r'<label for="id_images">Images</label>', html)
    assert 'name="images"' in html and "multiple" in html
    assert '<label for="id_dataset">Dataset</label>' in html and '<label for="id_consent">Consent</label>' in html
    assert str(world.consent.pk) in html
    assert html.count('<option value="') == 2  # the one dataset carla is enrolled in, her one consent
    assert re.search(r"<button[^>]*>Upload</button>", html)


def test_a_plain_post_of_a_mixed_batch_ends_on_one_row_per_file(world, contributor):
    web = client(contributor)
    batch = mixed_batch(20)

    html = finish(web, web.post(UPLOAD, form(world, files_of(batch))))

    rows = outcome_rows(html)
    assert len(rows) == 20
    assert {name: reason for name, (word, reason) in rows.items() if word == "refused"} == expected_reasons(batch)
    assert "17</strong> accepted, <strong>3</strong> refused" in html
    assert "do-not-train signal" in html


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [("empty.jpg", b"", "invalid_image"), ("letter.pdf", b"%PDF-1.4 a letter", "unsupported_type")],
    ids=["a 0-byte file", "a non-image"],
)
def test_a_bad_file_alone_is_refused_in_words_never_a_500(world, contributor, name, data, reason):
    web = client(contributor)
    html = finish(web, web.post(UPLOAD, form(world, [SimpleUploadedFile(name, data)])))
    assert outcome_rows(html) == {name: ("refused", reason)}


def test_another_contributors_consent_answers_404_and_nothing_is_kept(world, contributor, other_contributor):
    ottos = grant_consent(other_contributor, "otto@example.com")
    response = client(contributor).post(UPLOAD, form(world, [SimpleUploadedFile("a.jpg", image_bytes(3))], consent=str(ottos.pk)))
    assert response.status_code == 404
    assert not UploadSession.objects.exists()


def test_a_dataset_carla_is_not_enrolled_in_is_a_clear_message(world, contributor, operator):
    elsewhere = dataset_create(slug="elsewhere", scopes=["ai_training"], actor=operator)
    response = client(contributor).post(
        UPLOAD, form(world, [SimpleUploadedFile("a.jpg", image_bytes(3))], dataset=str(elsewhere.pk))
    )
    assert response.status_code == 400
    assert 'role="alert">You may not add images to that dataset' in response.content.decode()
    assert not UploadSession.objects.exists()


def test_more_files_than_one_upload_takes_is_a_clear_message_and_nothing_is_kept(world, contributor, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    response = client(contributor).post(UPLOAD, form(world, [SimpleUploadedFile(f"{i}.jpg", image_bytes(i)) for i in range(4)]))
    assert response.status_code == 400
    assert "That was more than 3 files in one go. Nothing was kept." in response.content.decode()
    assert not UploadSession.objects.exists()


def test_no_file_chosen_is_a_clear_message(world, contributor):
    response = client(contributor).post(UPLOAD, form(world, []))
    assert response.status_code == 400
    assert "Choose at least one image" in response.content.decode()


def test_a_post_without_the_csrf_token_is_refused(world, contributor):
    web = client(contributor)
    web.handler.enforce_csrf_checks = True
    response = web.post(UPLOAD, form(world, [SimpleUploadedFile("a.jpg", image_bytes(3))]))
    assert response.status_code == 403
    assert not UploadSession.objects.exists()


def test_a_request_over_the_size_limit_is_refused_before_it_is_read(world, contributor, settings, tmp_path):
    """The "2 GB file" with a small limit: the same path, without writing 2 GB."""
    settings.CLEANROOM_UPLOAD_MAX_REQUEST_BYTES = 64 * 1024
    _, content_type = write_multipart(
        tmp_path / "body",
        {"dataset": str(world.dataset.pk), "consent": str(world.consent.pk)},
        [("images", "big.jpg", [b"\0" * 100_000])],
    )
    response = client(contributor).generic("POST", UPLOAD, (tmp_path / "body").read_bytes(), content_type=content_type)
    assert response.status_code == 413
    assert "send the files in several requests" in response.content.decode()
    assert not UploadSession.objects.exists()


def test_a_file_over_the_image_limit_is_refused_too_large(world, contributor, settings):
    settings.CLEANROOM_INGEST = {**settings.CLEANROOM_INGEST, "MAX_FILE_BYTES": 4096}
    web = client(contributor)
    html = finish(web, web.post(UPLOAD, form(world, [SimpleUploadedFile("huge.jpg", image_bytes(5, size=(256, 256)))])))
    assert outcome_rows(html) == {"huge.jpg": ("refused", "too_large")}


def test_a_large_upload_streams_to_disk_not_memory(world, contributor, tmp_path):
    """100 MB sent as one file, read by the server from a stream as a WSGI server hands it over
    (the test client's own post would copy the body into memory first): the heap grows by a few MB."""
    size, content_type = write_multipart(
        tmp_path / "body", {}, [("file", "big.zip", (b"PK\x03\x04" + b"\0" * (1024 * 1024 - 4) for _ in range(100)))]
    )
    web = client(contributor)
    urls = web.post("/portal/upload/start/", {"dataset": str(world.dataset.pk), "consent": str(world.consent.pk)}).json()
    cookies = "; ".join(f"{name}={morsel.value}" for name, morsel in web.cookies.items())
    answered: list[int] = []
    with (tmp_path / "body").open("rb") as body:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": urls["files_url"],
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "HTTP_HOST": "testserver",
            "wsgi.url_scheme": "http",
            "wsgi.input": body,
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(size),
            "HTTP_COOKIE": cookies,
        }
        tracemalloc.start()
        try:
            answered.append(ClientHandler(enforce_csrf_checks=False)(environ).status_code)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert answered == [201]
    assert UploadedFile.objects.get().size == 100 * 1024 * 1024
    assert peak < 16 * 1024 * 1024, f"the server held {peak / 2**20:.0f} MB"


def test_the_scripts_path_sends_file_by_file_resumes_and_processes(world, contributor):
    web = client(contributor)
    started = web.post("/portal/upload/start/", {"dataset": str(world.dataset.pk), "consent": str(world.consent.pk)})
    assert started.status_code == 201
    urls = started.json()
    assert (
        web.post(urls["files_url"], {"name": "trip/one.jpg", "file": SimpleUploadedFile("one.jpg", image_bytes(7))}).status_code
        == 201
    )
    # the connection dropped; the page asks what arrived and sends only the rest
    assert web.get(urls["files_url"]).json()["received"] == ["trip/one.jpg"]
    assert (
        web.post(urls["files_url"], {"name": "trip/one.jpg", "file": SimpleUploadedFile("one.jpg", image_bytes(7))}).status_code
        == 201
    )
    assert (
        web.post(urls["files_url"], {"name": "trip/two.jpg", "file": SimpleUploadedFile("two.jpg", image_bytes(8))}).status_code
        == 201
    )

    html = finish(web, web.post(urls["process_url"]))

    assert outcome_rows(html) == {"trip/one.jpg": ("accepted", ""), "trip/two.jpg": ("accepted", "")}
    assert Asset.objects.filter(original_name__in=["one.jpg", "two.jpg"]).count() == 2
    assert not (staging_root() / urls["session"]).exists()


def test_the_upload_page_shows_progress_while_the_batch_is_processed(world, contributor):
    web = client(contributor)
    response = web.post(UPLOAD, form(world, [SimpleUploadedFile("a.jpg", image_bytes(9))]))
    html = web.get(response["Location"]).content.decode()
    assert "<progress" in html and "Waiting for a worker to start" in html
    partial = web.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert partial.startswith("<section") or partial.lstrip().startswith("<section")


def test_another_contributors_upload_answers_404(world, contributor, other_contributor):
    web = client(contributor)
    urls = web.post("/portal/upload/start/", {"dataset": str(world.dataset.pk), "consent": str(world.consent.pk)}).json()
    otto = client(other_contributor)
    assert otto.get(urls["page_url"]).status_code == 404
    assert otto.get(urls["files_url"]).status_code == 404
    assert (
        otto.post(urls["files_url"], {"name": "x.jpg", "file": SimpleUploadedFile("x.jpg", image_bytes(10))}).status_code == 404
    )
    assert otto.post(urls["process_url"]).status_code == 404


def test_a_contributor_with_no_consent_in_force_is_told_so(world, contributor):
    consent_revoke(consent_id=str(world.consent.pk), actor=contributor, reason="withdrawn")
    html = client(contributor).get(UPLOAD).content.decode()
    assert "None of your consents is in force today" in html


def test_an_abandoned_upload_says_so_and_takes_no_more_files(world, contributor):
    web = client(contributor)
    urls = web.post("/portal/upload/start/", {"dataset": str(world.dataset.pk), "consent": str(world.consent.pk)}).json()
    web.post(urls["files_url"], {"name": "one.jpg", "file": SimpleUploadedFile("one.jpg", image_bytes(970))})
    UploadSession.objects.filter(pk=urls["session"]).update(created_at=timezone.now() - timedelta(days=2))
    UploadedFile.objects.filter(session_id=urls["session"]).update(received_at=timezone.now() - timedelta(days=2))
    upload_sessions_sweep()

    page = web.get(f"/portal/upload/{urls['session']}/").content.decode()
    late = web.post(urls["files_url"], {"name": "two.jpg", "file": SimpleUploadedFile("two.jpg", image_bytes(971))})

    assert "This upload was left unfinished" in page and "Start a new upload" in page
    assert late.status_code == 409 and late.json()["code"] == "abandoned"
    assert not (staging_root() / urls["session"]).exists()
