"""The S3 blob store, through boto3 over HTTP to a real S3-protocol server (moto's server mode):
the same names and rules as the local store."""

from __future__ import annotations

import gc
import hashlib
import io
import os
import tracemalloc
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages

from core.storage import (
    blob_delete,
    blob_exists,
    blob_name,
    blob_open,
    blob_put_bytes,
    blob_put_stream,
    derived_open,
    derived_put,
)
from core.storage_s3 import PART_SIZE, ContentAddressedS3Storage
from tests.support.s3_server import S3Server, running_s3_server

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with running_s3_server() as server:
        yield server


@pytest.fixture
def bucket(settings, s3_server) -> str:
    name = s3_server.new_bucket()
    settings.STORAGES = {**settings.STORAGES, "blobs": s3_server.blob_storage_settings(name)}
    return name


def _keys(s3_server: S3Server, bucket: str) -> list[str]:
    listing = s3_server.client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_the_configured_backend_is_the_s3_store(bucket):
    assert isinstance(storages["blobs"], ContentAddressedS3Storage)


def test_a_blob_is_stored_under_its_sha256_path(bucket, s3_server):
    digest = blob_put_bytes(b"a photograph's bytes")

    assert digest == hashlib.sha256(b"a photograph's bytes").hexdigest()
    assert _keys(s3_server, bucket) == [f"{digest[:2]}/{digest[2:4]}/{digest}"]
    body = s3_server.client().get_object(Bucket=bucket, Key=blob_name(digest))["Body"].read()
    assert body == b"a photograph's bytes"


def test_putting_the_same_bytes_twice_is_one_object_written_once(bucket, s3_server):
    first = blob_put_bytes(b"the same bytes")
    before = s3_server.client().head_object(Bucket=bucket, Key=blob_name(first))["LastModified"]
    second, size = blob_put_stream(io.BytesIO(b""))  # an empty stream is another blob
    third = blob_put_bytes(b"the same bytes")

    assert first == third and second != first and size == 0
    assert _keys(s3_server, bucket) == sorted([blob_name(first), blob_name(second)])
    assert s3_server.client().head_object(Bucket=bucket, Key=blob_name(first))["LastModified"] == before


def test_a_blob_reads_back_in_pieces_and_seeks(bucket):
    data = os.urandom(3 * MiB + 11)
    digest = blob_put_bytes(data)

    with blob_open(digest) as handle:
        assert handle.read(10) == data[:10]
        handle.seek(2 * MiB)
        assert handle.read(5) == data[2 * MiB : 2 * MiB + 5]
        handle.seek(-4, os.SEEK_END)
        assert handle.read() == data[-4:]
        handle.seek(0)
        assert hashlib.sha256(handle.read()).hexdigest() == digest


@pytest.mark.slow
def test_a_large_blob_goes_up_multipart_and_comes_back_streaming_in_bounded_memory(bucket, s3_server, tmp_path):
    size = 128 * MiB
    source = tmp_path / "large.bin"
    expected = hashlib.sha256()
    with source.open("wb") as out:
        for index in range(size // MiB):
            chunk = hashlib.sha256(str(index).encode()).digest() * (MiB // 32)
            expected.update(chunk)
            out.write(chunk)

    tracemalloc.start()
    try:
        with source.open("rb") as stream:
            digest, stored = blob_put_stream(stream)
        _, upload_peak = tracemalloc.get_traced_memory()
        gc.collect()
        tracemalloc.reset_peak()
        before_read, _ = tracemalloc.get_traced_memory()  # what the upload left (boto3's caches)
        read_back = hashlib.sha256()
        with blob_open(digest) as handle:
            while chunk := handle.read(MiB):
                read_back.update(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (digest, stored) == (expected.hexdigest(), size)
    assert read_back.hexdigest() == digest
    # A multipart object's ETag is the hash of its parts' hashes, suffixed with their count.
    etag = s3_server.client().head_object(Bucket=bucket, Key=blob_name(digest))["ETag"]
    assert etag.strip('"').endswith(f"-{size // PART_SIZE}")
    # Memory is bounded by the parts read ahead and in flight (measured ~58 MiB for blobs of 64
    # and of 128 MiB alike), not by the blob's size.
    assert upload_peak < 8 * PART_SIZE <= size / 2, upload_peak
    assert read_peak - before_read < PART_SIZE, (read_peak, before_read)


def test_a_missing_blob_raises_file_not_found_naming_it_and_the_bucket(bucket):
    digest = "ab" * 32
    assert not blob_exists(digest)
    with pytest.raises(FileNotFoundError, match=f"blob {blob_name(digest)} is not in bucket {bucket}"):
        blob_open(digest)


def test_derived_files_live_beside_the_blob_and_go_with_it(bucket, s3_server):
    digest = blob_put_bytes(b"an image to erase")
    derived_put(digest, "thumbnail-256-v1.webp", b"thumbnail bytes")
    derived_put(digest, "thumbnail-256-v1.webp", b"not written: already derived")
    with derived_open(digest, "thumbnail-256-v1.webp") as handle:
        assert handle.read() == b"thumbnail bytes"

    blob_delete(digest)

    assert _keys(s3_server, bucket) == []
    assert not blob_exists(digest)


def test_a_store_without_a_bucket_is_refused_with_the_setting_to_set():
    with pytest.raises(ImproperlyConfigured, match="CLEANROOM_S3_BUCKET"):
        ContentAddressedS3Storage(bucket_name="")
