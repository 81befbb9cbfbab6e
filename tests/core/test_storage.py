from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from django.core.files.base import File

from core.storage import ContentAddressedFileSystemStorage, blob_exists, blob_name, blob_open, blob_put_bytes


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
