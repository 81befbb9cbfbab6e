from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import pytest
from django.core.files.base import File

from core.storage import (
    ContentAddressedFileSystemStorage,
    blob_exists,
    blob_name,
    blob_open,
    blob_put_bytes,
    blob_put_stream,
    blob_storage,
)


class _FailingContent(File):
    """Bytes that run out halfway: a disk error or a killed upload."""

    def __init__(self):
        super().__init__(None, name="x")

    def chunks(self, chunk_size=None):
        yield b"first half"
        raise OSError("disk full")


def test_the_same_bytes_are_stored_once_under_their_sha256(tmp_path):
    first = blob_put_bytes(b"some image bytes")
    second = blob_put_bytes(b"some image bytes")
    assert first == second == hashlib.sha256(b"some image bytes").hexdigest()
    with blob_open(first) as handle:
        assert handle.read() == b"some image bytes"


def test_a_write_that_fails_midway_leaves_nothing_under_the_blobs_name(tmp_path):
    storage = ContentAddressedFileSystemStorage(location=str(tmp_path))
    name = blob_name("ab" * 32)
    with pytest.raises(OSError, match="disk full"):
        storage.save(name, _FailingContent())
    assert not storage.exists(name)
    leftovers = [f for _, _, files in os.walk(tmp_path) for f in files]
    assert leftovers == []


def test_names_that_are_not_sha256_digests_are_refused():
    with pytest.raises(ValueError):
        blob_name("../../etc/passwd")
    assert not blob_exists("0" * 64)


def test_a_blob_and_its_folders_are_readable_by_the_platform_only(settings, tmp_path):
    digest = blob_put_bytes(b"a contributor's photograph")

    root = Path(settings.STORAGES["blobs"]["OPTIONS"]["location"])
    blob = root / blob_name(digest)
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    assert [oct(stat.S_IMODE(folder.stat().st_mode)) for folder in (blob.parent, blob.parent.parent, root)] == ["0o700"] * 3


class _CountingStream(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_a_stream_is_hashed_while_it_is_copied_in_one_pass():
    data = os.urandom(5 * 1024 * 1024 + 7)
    stream = _CountingStream(data)

    digest, size = blob_put_stream(stream)

    assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
    with blob_open(digest) as handle:
        assert handle.read() == data
    assert stream.bytes_read == len(data)
    leftovers = [f for _, _, files in os.walk(blob_storage().location) for f in files if f.startswith(".incoming-")]
    assert leftovers == []


def test_a_stream_whose_digest_is_known_is_stored_under_it_without_hashing_again():
    data = b"already hashed while it was uploaded"
    stream = _CountingStream(data)
    digest = hashlib.sha256(data).hexdigest()

    assert blob_put_stream(stream, sha256=digest) == (digest, len(data))
    assert stream.bytes_read == len(data)
    assert blob_exists(digest)
