"""The thumbnail view (whoever may see the asset; WebP once a worker made it, else the original
while its derivation is queued, never computed in the request) and a GIF/JS polyglot accepted
at ingest, which every image view serves as an image a browser will not run."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from provenance.models import Asset
from provenance.services.thumbnails import thumbnail_exists, thumbnails_derive
from tests.provenance.factories import image_bytes, ingest
from tests.support.pages import client
from tests.support.polyglot import polyglot_gif
from tests.workers import queued_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo(world, contributor) -> Asset:
    content = image_bytes(21, size=(1600, 900))
    result = ingest(contributor, world.dataset, world.consent, SimpleUploadedFile("harbour.jpg", content, "image/jpeg"))
    return Asset.objects.get(pk=result["accepted"][0]["asset_id"])


def thumb_url(asset: Asset, size: int = 256) -> str:
    return f"/images/assets/{asset.pk}/thumb/{size}/"


def derivations_queued(asset: Asset) -> int:
    texts = [message.read_text() for message in queued_messages("default")]
    return sum(1 for text in texts if "provenance.derive_thumbnails" in text and str(asset.pk) in text)


def test_without_its_thumbnail_the_view_queues_one_and_serves_the_original_meanwhile(
    photo, reviewer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client(reviewer).get(thumb_url(photo, 1024))

    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == image_bytes(21, size=(1600, 900))
    assert response["Cache-Control"] == "private, no-cache"
    assert derivations_queued(photo) == 1
    assert not thumbnail_exists(sha256=photo.sha256, size=1024)  # nothing decoded in the request


def test_a_second_look_before_the_worker_is_done_queues_nothing_more(photo, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            client(reviewer).get(thumb_url(photo))

    assert derivations_queued(photo) == 1


def test_once_made_the_thumbnail_is_served_as_webp_with_a_validator(photo, reviewer):
    thumbnails_derive(asset_id=str(photo.pk))
    web = client(reviewer)

    response = web.get(thumb_url(photo))

    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert b"".join(response.streaming_content)[8:12] == b"WEBP"
    assert response["X-Content-Type-Options"] == "nosniff" and response["Content-Disposition"] == "inline"
    assert response["Cache-Control"] == "private, max-age=3600"
    assert photo.sha256 in response["ETag"]
    again = web.get(thumb_url(photo), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


@pytest.mark.parametrize("size", [0, 128, 512, 2048, 99999])
def test_only_the_sizes_made_exist(photo, reviewer, size):
    assert client(reviewer).get(thumb_url(photo, size)).status_code == 404


def test_a_thumbnail_answers_exactly_as_its_image_does(photo, contributor, other_contributor, ml_engineer, reviewer, compliance):
    url = thumb_url(photo)
    assert client().get(url).status_code == 302
    assert client(contributor).get(url).status_code == 200
    assert client(reviewer).get(url).status_code == 200
    assert client(compliance).get(url).status_code == 200
    assert client(other_contributor).get(url).status_code == 404
    assert client(ml_engineer).get(url).status_code == 404
    assert client(reviewer).get(f"/images/assets/{'0' * 8}-0000-0000-0000-{'0' * 12}/thumb/256/").status_code == 404


def test_a_thumbnail_of_an_erased_image_is_gone(photo, reviewer):
    from core.storage import blob_delete

    thumbnails_derive(asset_id=str(photo.pk))
    blob_delete(photo.sha256)

    assert client(reviewer).get(thumb_url(photo)).status_code == 404


# -- a GIF that is also JavaScript ---------------------------------------------------------------
@pytest.fixture
def polyglot(world, contributor) -> Asset:
    result = ingest(contributor, world.dataset, world.consent, SimpleUploadedFile("cat.gif", polyglot_gif(), "image/gif"))
    assert result["accepted"], result  # ingest takes it: it is a valid GIF
    return Asset.objects.get(pk=result["accepted"][0]["asset_id"])


def test_a_polyglot_is_served_as_a_gif_that_no_browser_may_take_for_a_script(polyglot, reviewer):
    response = client(reviewer).get(f"/images/assets/{polyglot.pk}/")

    assert response["Content-Type"] == "image/gif"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "inline"
    assert b"window.pwned=1" in b"".join(response.streaming_content)  # the bytes are served as stored


def test_a_polyglots_thumbnail_is_a_re_encoded_webp_without_its_script(polyglot, reviewer):
    thumbnails_derive(asset_id=str(polyglot.pk))

    response = client(reviewer).get(f"/images/assets/{polyglot.pk}/thumb/1024/")

    body = b"".join(response.streaming_content)
    assert response["Content-Type"] == "image/webp" and body[:4] == b"RIFF" and body[8:12] == b"WEBP"
    assert b"pwned" not in body and b"/*" not in body[:16]
