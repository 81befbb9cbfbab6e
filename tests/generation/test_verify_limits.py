"""What verify refuses, and how: at most CLEANROOM_VERIFY_MAX_BYTES (50 MB) and
CLEANROOM_VERIFY_MAX_PIXELS (4096 × 4096) with `too_large` (413) saying the limit in words; a file
that is not an image it reads (empty, SVG, PDF, a ZIP bomb, PostScript) with `invalid_image`;
a decompression bomb refused before a pixel is decoded. Through the service and the API; nothing
is stored for any of them."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from core.exceptions import ApplicationError
from generation.models import Verification
from tests.generation.factories import blob_files, files_holding, verification_of

VERIFY = "/api/v1/verify/"


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width` × `height` pixels over a few bytes of data: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.png", b"\0" * (20 * 1024 * 1024))
    return buffer.getvalue()


def black_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


NOT_IMAGES = {
    "empty": b"",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
    "pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    "postscript": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
    "zip bomb": None,
}


def refusal(data: bytes) -> ApplicationError:
    with pytest.raises(ApplicationError) as refused:
        verification_of(data)
    return refused.value


@pytest.fixture
def nothing_stored(tmp_path):
    blobs = blob_files()
    yield
    assert Verification.objects.count() == 0 and blob_files() == blobs
    assert not (tmp_path / "verify-spool").exists() or not list((tmp_path / "verify-spool").glob("*-*"))


@pytest.mark.parametrize("kind", NOT_IMAGES)
def test_what_is_not_an_image_is_refused_in_plain_words(db, nothing_stored, kind):
    data = NOT_IMAGES[kind] if kind != "zip bomb" else zip_bomb()

    refused = refusal(data)

    assert (refused.code, refused.status) == ("invalid_image", 400)
    if kind == "empty":
        assert refused.message == "the file is empty: choose an image file (JPEG, PNG or WebP)"
    else:
        assert refused.message.startswith("not an image verify can read (JPEG, PNG, WebP, GIF, BMP or TIFF)")
    assert "0x" not in refused.message and "BytesIO" not in refused.message


@pytest.mark.parametrize(("width", "height"), [(5000, 5000), (100_000, 100_000)])
def test_a_decompression_bomb_is_too_large_before_its_pixels_are_decoded(db, nothing_stored, width, height):
    refused = refusal(png_header_only(width, height))

    assert (refused.code, refused.status) == ("too_large", 413)
    assert refused.message.startswith("verify accepts images up to 4096 × 4096 pixels; this one ")
    if width == 5000:  # Pillow itself refuses to open the larger one, before it says its size
        assert refused.message.endswith("is 5000 × 5000 pixels")


def test_the_pixel_limit_is_a_setting_and_its_edge_is_allowed(db, pki, settings, nothing_stored):
    settings.CLEANROOM_VERIFY_MAX_PIXELS = 64 * 64
    refused = refusal(black_png(65, 64))
    assert refused.code == "too_large"
    assert refused.message == "verify accepts images up to 64 × 64 pixels; this one is 65 × 64 pixels"

    settings.CLEANROOM_VERIFY_MAX_PIXELS = 5000
    assert refusal(black_png(71, 71)).message.startswith("verify accepts images up to 5,000 pixels;")


def test_at_the_pixel_limit_an_image_is_accepted(db, pki, settings):
    settings.CLEANROOM_VERIFY_MAX_PIXELS = 64 * 64
    assert verification_of(black_png(64, 64)).status == "queued"


def test_a_file_over_50_mb_is_too_large_saying_the_limit(db, settings, nothing_stored):
    assert settings.CLEANROOM_VERIFY_MAX_BYTES == 50 * 1024 * 1024

    refused = refusal(b"\x89PNG" + b"\0" * (50 * 1024 * 1024))

    assert (refused.code, refused.status, refused.message) == (
        "too_large",
        413,
        "verify accepts files up to 50 MB; this one is larger",
    )


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("empty.png", b"", 400, "invalid_image"),
        ("drawing.svg", NOT_IMAGES["svg"], 400, "invalid_image"),
        ("paper.pdf", NOT_IMAGES["pdf"], 400, "invalid_image"),
        ("bomb.zip", None, 400, "invalid_image"),
        ("bomb.png", png_header_only(5000, 5000), 413, "too_large"),
        ("huge.png", png_header_only(100_000, 100_000), 413, "too_large"),
        ("big.png", b"\x89PNG" + b"\0" * 3000, 413, "too_large"),
    ],
)
def test_the_api_answers_each_refusal_with_its_code_and_stores_nothing(db, api, settings, tmp_path, name, data, status, code):
    settings.CLEANROOM_VERIFY_MAX_BYTES = 2000
    data = zip_bomb()[:1900] if data is None else data  # the bomb's head: still a ZIP, within the byte limit

    response = api.post(VERIFY, {"file": SimpleUploadedFile(name, data)}, format="multipart")

    assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    assert response.json()["error"] and "Traceback" not in response.json()["error"]
    if code == "too_large":
        assert "verify accepts" in response.json()["error"]
    assert Verification.objects.count() == 0 and blob_files() == set()
    assert data == b"" or files_holding(tmp_path, data) == []
