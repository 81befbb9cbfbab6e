"""The S3 backend of the content-addressed blob store (`core.storage.ContentAddressedS3Storage`),
on django-storages' S3Storage: the same names and rules as the local store."""

from __future__ import annotations

import io
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from storages.backends.s3 import S3Storage

from core.storage import CHUNK

PART_SIZE = 8 * CHUNK


class ContentAddressedS3Storage(S3Storage):
    """Blobs in an S3-compatible bucket, named as on the local store (`ab/cd/abcd…`).

    A name is the hash of its bytes, so an object already under it is never written again
    (idempotent puts, no alternative names). Large uploads go multipart through boto3's transfer
    manager (parts of `CHUNK`·8 bytes); reads stream the object with ranged GETs instead of
    downloading it whole, and are seekable (Pillow seeks).
    """

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        if settings.get("transfer_config") is None:
            # Parts of 8 MiB from 8 MiB up, at most four read ahead: an upload holds ~5 parts in
            # memory whatever the blob's size (boto3's default of ten held 108 MiB of a 128 MiB blob).
            self.transfer_config = TransferConfig(
                multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=4, use_threads=self.use_threads
            )
            self.transfer_config.max_in_memory_upload_chunks = 4
        if not self.bucket_name:
            raise ImproperlyConfigured("CLEANROOM_S3_BUCKET must name the bucket that holds the blobs")

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name

    def _save(self, name: str, content: File) -> str:
        if self.exists(name):
            return name
        return super()._save(name, content)

    def _open(self, name: str, mode: str = "rb") -> File:
        if mode != "rb":
            raise ValueError(f"blobs are opened for reading only (mode 'rb'), not {mode!r}")
        key = self._normalize_name(name)
        try:
            head = self.connection.meta.client.head_object(Bucket=self.bucket_name, Key=key)
        except ClientError as err:
            if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise FileNotFoundError(f"blob {name} is not in bucket {self.bucket_name}") from None
            raise
        raw = _S3ObjectReader(self.connection.meta.client, self.bucket_name, key, head["ContentLength"])
        return File(io.BufferedReader(raw, buffer_size=CHUNK), name=name)


class _S3ObjectReader(io.RawIOBase):
    """One object read as a stream: a GET from the current position, re-issued (with a Range)
    only after a seek, so memory stays at one buffer whatever the object's size."""

    def __init__(self, client: Any, bucket: str, key: str, size: int) -> None:
        self._client, self._bucket, self._key, self._size = client, bucket, key, size
        self._position = 0
        self._body: Any = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        position = max(0, base + offset)
        if position != self._position:
            self._drop_body()
            self._position = position
        return position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size or len(buffer) == 0:
            return 0
        if self._body is None:
            answer = self._client.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-")
            self._body = answer["Body"]
        data = self._body.read(len(buffer))
        if not data:
            raise OSError(f"blob {self._key} ended at byte {self._position} of {self._size}")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        self._drop_body()
        super().close()

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None
