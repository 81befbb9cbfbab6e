"""Thumbnails: derived once by a worker (the task, the service), WebP of 256 and 1024 px along
the longest side, never enlarged, turned as the EXIF says, with no metadata; stored under the
image's digest, reused, queued after ingest, and purged with the image."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from core.storage import blob_delete, blob_storage, derived_name
from provenance.models import Asset
from provenance.services.thumbnails import THUMBNAIL_SIZES, thumbnail_exists, thumbnail_label, thumbnails_derive
from provenance.tasks import derive_thumbnails
from tests.provenance.factories import image_bytes, ingest
from tests.workers import queued_messages

pytestmark = pytest.mark.django_db


def upload(world, contributor, content: bytes, name: str = "photo.jpg") -> Asset:
    result = ingest(contributor, world.dataset, world.consent, SimpleUploadedFile(name, content, "image/jpeg"))
    return Asset.objects.get(pk=result["accepted"][0]["asset_id"])


def thumbnail(asset: Asset, size: int) -> Image.Image:
    with blob_storage().open(derived_name(asset.sha256, thumbnail_label(size)), "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def test_a_large_photo_gets_both_sizes_as_webp_along_its_longest_side(world, contributor):
    asset = upload(world, contributor, image_bytes(1, size=(2000, 1000)))

    assert thumbnails_derive(asset_id=str(asset.pk)) == [256, 1024]

    assert (thumbnail(asset, 1024).format, thumbnail(asset, 1024).size) == ("WEBP", (1024, 512))
    assert thumbnail(asset, 256).size == (256, 128)


def test_a_small_image_is_never_enlarged(world, contributor):
    asset = upload(world, contributor, image_bytes(2, size=(300, 200)))

    thumbnails_derive(asset_id=str(asset.pk))

    assert thumbnail(asset, 1024).size == (300, 200)
    assert thumbnail(asset, 256).size == (256, 171)


def test_a_thumbnail_is_turned_as_the_exif_says_and_keeps_no_metadata(world, contributor):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: shown turned a quarter clockwise
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # where it was taken
    asset = upload(world, contributor, image_bytes(3, size=(400, 200), exif=exif))

    thumbnails_derive(asset_id=str(asset.pk))

    made = thumbnail(asset, 256)
    assert made.size == (128, 256)
    assert not made.getexif() and "exif" not in made.info and "xmp" not in made.info


def test_thumbnails_are_made_once_and_kept_under_the_images_digest(world, contributor):
    asset = upload(world, contributor, image_bytes(4, size=(600, 400)))
    assert not thumbnail_exists(sha256=asset.sha256, size=256)

    assert derive_thumbnails.apply(args=[[str(asset.pk)]]).get() == {str(asset.pk): [256, 1024]}
    assert derive_thumbnails.apply(args=[[str(asset.pk)]]).get() == {str(asset.pk): []}  # nothing made again

    for size in THUMBNAIL_SIZES:
        assert derived_name(asset.sha256, thumbnail_label(size)).endswith(f"{asset.sha256}/thumbnail-{size}-v1.webp")
        assert thumbnail_exists(sha256=asset.sha256, size=size)


def test_erasing_an_image_erases_its_thumbnails(world, contributor):
    asset = upload(world, contributor, image_bytes(5, size=(600, 400)))
    thumbnails_derive(asset_id=str(asset.pk))

    blob_delete(asset.sha256)

    assert not any(thumbnail_exists(sha256=asset.sha256, size=size) for size in THUMBNAIL_SIZES)
    assert thumbnails_derive(asset_id=str(asset.pk)) == []  # the bytes are gone: nothing to make


def test_an_undecodable_blob_gets_no_thumbnail_and_no_error(world, contributor):
    asset = upload(world, contributor, image_bytes(6, size=(64, 64)))
    blob_delete(asset.sha256)
    blob_storage().save(f"{asset.sha256[:2]}/{asset.sha256[2:4]}/{asset.sha256}", io.BytesIO(b"not an image any more"))

    assert thumbnails_derive(asset_id=str(asset.pk)) == []


def test_ingest_queues_the_thumbnails_of_what_it_accepted_on_the_default_queue(
    world, contributor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        asset = upload(world, contributor, image_bytes(7, size=(64, 64)))

    messages = [m.read_text() for m in queued_messages("default")]
    assert any("provenance.derive_thumbnails" in m and str(asset.pk) in m for m in messages)
    assert not thumbnail_exists(sha256=asset.sha256, size=256)  # the worker makes it, not ingest
