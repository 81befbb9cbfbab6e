"""Uploading images through POST /api/v1/ingest/: each file is accepted or refused, never a 500."""

from __future__ import annotations

import hashlib
import tracemalloc

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from provenance.models import Asset, Dataset, IngestBatch
from provenance.services.contributors import contributor_get
from provenance.services.datasets import dataset_create, dataset_enrol
from tests.provenance.factories import (
    broken_images,
    grant_consent,
    image_bytes,
    jpeg,
    raw_multipart,
    write_multipart,
    zip_of,
)

INGEST = "/api/v1/ingest/"


def _dataset(operator) -> Dataset:
    """The dataset `portraits`, carla enrolled in it."""
    dataset = dataset_create(slug="portraits", scopes=["ai_training"], actor=operator)
    dataset_enrol(dataset=dataset, contributor=contributor_get(email="carla@example.com"), actor=operator)
    return dataset


def test_a_multipart_upload_accepts_good_files_and_zip_members_and_refuses_the_rest(contributor, operator, client_for) -> None:
    dataset = _dataset(operator)
    consent = grant_consent(contributor, "carla@example.com")
    files = [
        jpeg("beach.jpg", seed=10),
        jpeg("forest.jpg", seed=11),
        zip_of("batch.zip", {"city.jpg": image_bytes(12), "../escape.jpg": image_bytes(13), "copy.jpg": image_bytes(10)}),
        SimpleUploadedFile("broken.jpg", b"this is not a picture", "image/jpeg"),
    ]

    response = client_for(contributor).post(
        INGEST, {"dataset": "portraits", "consent_id": str(consent.pk), "files": files}, format="multipart"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["consent_id"] == str(consent.pk)
    assert sorted(row["path"] for row in body["accepted"]) == ["batch.zip!city.jpg", "beach.jpg", "forest.jpg"]
    refused = {row["path"]: row["reason"] for row in body["refused"]}
    assert refused == {
        "batch.zip!../escape.jpg": "unsafe_path",
        "batch.zip!copy.jpg": "duplicate",
        "broken.jpg": "invalid_image",
    }
    batch = IngestBatch.objects.get(pk=body["batch_id"])
    assert (batch.accepted_count, batch.refused_count) == (3, 3)
    assert set(dataset.assets.values_list("sha256", flat=True)) == {row["sha256"] for row in body["accepted"]}


def test_the_operator_may_ingest_under_any_contributors_consent(contributor, operator, client_for) -> None:
    _dataset(operator)
    consent = grant_consent(contributor, "carla@example.com")

    response = client_for(operator).post(
        INGEST, {"dataset": "portraits", "consent_id": str(consent.pk), "files": [jpeg("a.jpg", seed=1)]}, format="multipart"
    )

    assert response.status_code == 200
    assert Asset.objects.get(pk=response.json()["accepted"][0]["asset_id"]).contributor.email == "carla@example.com"


def test_a_contributor_cannot_ingest_under_another_contributors_consent(
    contributor, other_contributor, operator, client_for
) -> None:
    _dataset(operator)
    consent = grant_consent(contributor, "carla@example.com")

    response = client_for(other_contributor).post(
        INGEST, {"dataset": "portraits", "consent_id": str(consent.pk), "files": [jpeg("a.jpg", seed=1)]}, format="multipart"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_consent"
    assert not Asset.objects.exists()


def test_an_unknown_dataset_is_a_404_with_a_json_error(contributor, client_for) -> None:
    consent = grant_consent(contributor, "carla@example.com")

    response = client_for(contributor).post(
        INGEST, {"dataset": "nowhere", "consent_id": str(consent.pk), "files": [jpeg("a.jpg", seed=1)]}, format="multipart"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_dataset"


def test_an_upload_without_files_or_with_a_malformed_consent_id_is_a_400(contributor, operator, client_for) -> None:
    _dataset(operator)
    client = client_for(contributor)

    no_files = client.post(INGEST, {"dataset": "portraits", "consent_id": "not-a-uuid"}, format="multipart")

    assert no_files.status_code == 400
    assert set(no_files.json()["fields"]) == {"consent_id", "files"}


def test_a_bad_licence_refuses_the_request_with_a_400(contributor, operator, client_for) -> None:
    _dataset(operator)
    consent = grant_consent(contributor, "carla@example.com")

    response = client_for(contributor).post(
        INGEST,
        {"dataset": "portraits", "consent_id": str(consent.pk), "files": [jpeg("a.jpg", seed=1)], "licence": "no; way"},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_licence"


def test_a_licence_and_source_url_are_recorded_on_the_accepted_assets(contributor, operator, client_for) -> None:
    _dataset(operator)
    consent = grant_consent(contributor, "carla@example.com")

    response = client_for(contributor).post(
        INGEST,
        {
            "dataset": "portraits",
            "consent_id": str(consent.pk),
            "files": [jpeg("a.jpg", seed=1)],
            "licence": "CC-BY-4.0",
            "source_url": "https://example.com/shoot",
        },
        format="multipart",
    )

    asset = Asset.objects.get(pk=response.json()["accepted"][0]["asset_id"])
    assert (asset.source.licence_spdx, asset.source.url) == ("CC-BY-4.0", "https://example.com/shoot")


# -- every part of the upload is accounted for ----------------------------------------------
def _parts(consent, *files: tuple[bytes, bytes]) -> list[tuple[str, bytes | None, bytes]]:
    fields = [("dataset", None, b"portraits"), ("consent_id", None, str(consent.pk).encode())]
    return fields + [("files", name, data) for name, data in files]


def test_a_hand_written_multipart_upload_is_read_part_by_part(contributor, operator, client_for) -> None:
    _dataset(operator)
    consent = grant_consent(contributor, "carla@example.com")
    body, content_type = raw_multipart(_parts(consent, (b"one.jpg", image_bytes(1)), ("café.jpg".encode(), image_bytes(2))))

    response = client_for(contributor).generic("POST", INGEST, body, content_type=content_type)

    assert response.status_code == 200, response.content
    assert sorted(row["path"] for row in response.json()["accepted"]) == ["café.jpg", "one.jpg"]


def test_a_file_whose_name_is_not_utf8_refuses_the_upload_instead_of_vanishing(contributor, operator, client_for) -> None:
    _dataset(operator)
    consent = grant_consent(contributor, "carla@example.com")
    body, content_type = raw_multipart(_parts(consent, (b"good.jpg", image_bytes(1)), (b"\xff\xfe.png", image_bytes(2))))

    response = client_for(contributor).generic("POST", INGEST, body, content_type=content_type)

    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "unreadable_parts"
    assert (answer["parts_received"], answer["parts_read"]) == (4, 3)
    assert not Asset.objects.exists() and not IngestBatch.objects.exists()


def test_more_files_than_the_server_takes_is_a_json_400(contributor, operator, client_for, settings) -> None:
    _dataset(operator)
    consent = grant_consent(contributor, "carla@example.com")
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    body, content_type = raw_multipart(_parts(consent, *[(f"{i}.jpg".encode(), b"x") for i in range(limit + 1)]))

    response = client_for(contributor).generic("POST", INGEST, body, content_type=content_type)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "too_many_files"
    assert response.json()["max_files"] == limit == 1000
    assert not IngestBatch.objects.exists()


# -- a contributor ingests only into the datasets they are enrolled in -----------------------
def test_a_dataset_the_contributor_is_not_enrolled_in_answers_exactly_as_an_unknown_slug(
    contributor, operator, client_for
) -> None:
    consent = grant_consent(contributor, "carla@example.com")
    client = client_for(contributor)

    def upload():
        body = {"dataset": "landscapes", "consent_id": str(consent.pk), "files": [jpeg("a.jpg", seed=1)]}
        return client.post(INGEST, body, format="multipart")

    unknown = upload()
    dataset_create(slug="landscapes", scopes=["commercial_use"], actor=operator)
    not_enrolled = upload()

    assert (not_enrolled.status_code, not_enrolled.json()) == (unknown.status_code, unknown.json())
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_dataset")
    assert not Asset.objects.exists() and not IngestBatch.objects.exists()


def test_no_refused_upload_shows_an_object_repr(contributor, operator, client_for) -> None:
    _dataset(operator)
    consent = grant_consent(contributor, "carla@example.com")
    broken = broken_images()
    files = [SimpleUploadedFile(name, data) for name, data in broken.items()] + [zip_of("broken.zip", broken)]

    response = client_for(contributor).post(
        INGEST, {"dataset": "portraits", "consent_id": str(consent.pk), "files": files}, format="multipart"
    )

    assert response.status_code == 200, response.content
    refused = response.json()["refused"]
    assert len(refused) > 20
    for row in refused:
        assert " at 0x" not in row["detail"], row


@pytest.mark.slow
def test_a_large_upload_is_streamed_to_disk_and_hashed_never_held_in_memory(
    contributor, operator, client_for, tmp_path, settings
) -> None:
    """50 MB through the whole request (the body is read from disk, as a server reads a socket):
    peak Python memory stays a small fraction of the upload."""
    _dataset(operator)
    consent = grant_consent(contributor, "carla@example.com")
    picture = image_bytes(70, size=(256, 256))
    trailer = np.random.default_rng(71).bytes(1024 * 1024)  # a JPEG ends at its EOI marker: the rest is carried along
    chunks = [picture] + [trailer] * 50
    digest = hashlib.sha256(b"".join(chunks)).hexdigest()
    size, content_type = write_multipart(
        tmp_path / "body", {"dataset": "portraits", "consent_id": str(consent.pk)}, [("files", "large.jpg", chunks)]
    )
    client = client_for(contributor)
    with (tmp_path / "body").open("rb") as body:
        tracemalloc.start()
        try:
            response = client.generic(
                "POST", INGEST, b"", content_type=content_type, CONTENT_LENGTH=str(size), **{"wsgi.input": body}
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert response.status_code == 200, response.content
    [accepted] = response.json()["accepted"]
    assert accepted["sha256"] == digest
    assert Asset.objects.get(sha256=digest).size == len(picture) + 50 * len(trailer)
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB upload"
