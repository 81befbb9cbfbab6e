from __future__ import annotations

import http.server
import io
import json
import threading
import time
from collections.abc import Iterator

import c2pa
import pytest

from provenance.c2pa.reader import may_contain_c2pa
from provenance.ingest.metadata import ExtractedMetadata, extract_metadata
from tests.provenance.ingest import images
from tests.provenance.ingest.c2pa_signing import make_credentials, shared_credentials, sign_image


def extract(data: bytes, mime_type: str, **options: str) -> ExtractedMetadata:
    return extract_metadata(images.open_image(data), data, mime_type=mime_type, **options)


def test_a_signed_jpeg_reads_as_trusted_when_its_root_is_a_trust_anchor() -> None:
    credentials = shared_credentials()
    data = sign_image(images.jpeg_bytes(), "image/jpeg")

    metadata = extract(data, "image/jpeg", trust_anchors_pem=credentials.root_pem)

    assert metadata.c2pa["validation_state"] == "Trusted"
    assert metadata.c2pa["error"] is None
    assert metadata.c2pa["validation_status"] == []
    assert metadata.c2pa["active_manifest"] in metadata.c2pa["manifests"]
    json.dumps(metadata.as_json())


def test_an_untrusted_signer_reads_as_valid_with_the_untrusted_code() -> None:
    data = sign_image(images.jpeg_bytes(), "image/jpeg", credentials=make_credentials("Unknown CA"))

    metadata = extract(data, "image/jpeg", trust_anchors_pem=shared_credentials().root_pem)

    assert metadata.c2pa["validation_state"] == "Valid"
    assert "signingCredential.untrusted" in metadata.c2pa["validation_status"]


def test_a_signed_png_is_read() -> None:
    data = sign_image(images.png_bytes(), "image/png")

    metadata = extract(data, "image/png", trust_anchors_pem=shared_credentials().root_pem)

    assert metadata.c2pa["validation_state"] == "Trusted"


def test_changed_pixels_make_the_manifest_invalid() -> None:
    data = images.flip_byte_in_scan_data(sign_image(images.jpeg_bytes(), "image/jpeg"))

    metadata = extract(data, "image/jpeg", trust_anchors_pem=shared_credentials().root_pem)

    assert metadata.c2pa["validation_state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in metadata.c2pa["validation_status"]


def test_an_unreadable_manifest_is_reported_as_an_error_not_raised() -> None:
    data = images.break_manifest_claim(sign_image(images.jpeg_bytes(), "image/jpeg"))

    metadata = extract(data, "image/jpeg")

    assert metadata.c2pa["validation_state"] is None
    assert metadata.c2pa["manifests"] == {}
    assert "claim" in metadata.c2pa["error"]
    json.dumps(metadata.as_json())


@pytest.fixture
def recording_http_server() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *arguments: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/manifests/asset", requests
    server.shutdown()
    server.server_close()


def test_reading_a_file_that_points_at_a_remote_manifest_makes_no_network_request(recording_http_server) -> None:
    url, requests = recording_http_server
    data = sign_image(images.jpeg_bytes(), "image/jpeg", remote_url=url)

    metadata = extract(data, "image/jpeg")

    assert requests == []
    assert "remote" in metadata.c2pa["error"].lower()
    # Control: the SDK's default settings would have fetched it.
    with pytest.raises(c2pa.C2paError):
        c2pa.Reader("image/jpeg", io.BytesIO(data))
    assert requests == ["/manifests/asset"]


def test_c2pa_text_after_the_image_data_is_not_taken_for_a_manifest() -> None:
    data = images.jpeg_bytes() + b"junk c2pa jumb junk"

    assert not may_contain_c2pa(data)
    assert extract(data, "image/jpeg").c2pa is None


def test_the_c2pa_pre_check_of_a_large_file_does_not_scan_every_byte() -> None:
    data = images.jpeg_bytes() + bytes(16 * 1024 * 1024)
    calls = 200

    started = time.perf_counter()
    for _ in range(calls):
        may_contain_c2pa(data)
    per_call = (time.perf_counter() - started) / calls

    assert per_call < 0.0005  # scanning 16 MiB for b"c2pa" takes several milliseconds
