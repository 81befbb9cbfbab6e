"""A request larger than CLEANROOM_UPLOAD_MAX_REQUEST_BYTES is refused before its body is read:
413 with the API's error shape, whatever its parts."""

from __future__ import annotations

import pytest

from provenance.models import IngestBatch
from tests.provenance.factories import grant_consent, image_bytes, raw_multipart

pytestmark = pytest.mark.django_db
INGEST = "/api/v1/ingest/"


def _upload(consent_id: str, *files: bytes) -> tuple[bytes, str]:
    fields = [("dataset", None, b"portraits"), ("consent_id", None, consent_id.encode())]
    return raw_multipart(fields + [("files", f"{i}.png".encode(), data) for i, data in enumerate(files)])


def test_an_upload_over_the_total_request_cap_is_a_413_and_nothing_is_ingested(contributor, client_for, settings) -> None:
    consent = grant_consent(contributor, "carla@example.com")
    body, content_type = _upload(str(consent.pk), *(image_bytes(i, size=(128, 128), fmt="PNG") for i in range(4)))
    settings.CLEANROOM_UPLOAD_MAX_REQUEST_BYTES = len(body) - 1

    response = client_for(contributor).generic("POST", INGEST, body, content_type=content_type)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert f"{len(body) - 1} bytes" in response.json()["error"]
    assert not IngestBatch.objects.exists()


def test_an_upload_at_the_cap_is_read(contributor, client_for, settings) -> None:
    consent = grant_consent(contributor, "carla@example.com")
    body, content_type = _upload(str(consent.pk), image_bytes(1, size=(128, 128), fmt="PNG"))
    settings.CLEANROOM_UPLOAD_MAX_REQUEST_BYTES = len(body)

    response = client_for(contributor).generic("POST", INGEST, body, content_type=content_type)

    assert response.status_code != 413
    assert response.json()["code"] == "unknown_dataset"  # read and judged: there is no dataset `portraits`


def test_a_page_posted_over_the_cap_is_a_413_too(client, settings) -> None:
    settings.CLEANROOM_UPLOAD_MAX_REQUEST_BYTES = 1000

    response = client.post("/accounts/login/", {"username": "x" * 2000, "password": "y"})

    assert response.status_code == 413
