"""Content-addressed blobs behind Django's storage API (the `blobs` storage in settings).

A blob's name is derived from its sha256 alone (`ab/cd/abcd…`), so the same bytes are stored
once, whoever uploads them, and any backend (local files, S3) can hold them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from typing import IO, Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage, storages

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


class ContentAddressedFileSystemStorage(FileSystemStorage):
    """Local blobs, written atomically: a temporary file in the same folder, then a rename.

    A crash mid-write can never leave a truncated file under a blob's name (which `exists()`
    would then trust for ever), and since a name is the hash of its bytes, writing the same
    name twice is harmless, so no alternative names are ever made.
    """

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name

    def _save(self, name: str, content: File) -> str:
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        # The mode reaches the last folder only; the ones above it follow the process's umask.
        os.makedirs(directory, mode=self.directory_permissions_mode or 0o777, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                if hasattr(content, "chunks"):
                    for chunk in content.chunks():
                        out.write(chunk)
                else:
                    out.write(content.read())
            if self.file_permissions_mode is not None:
                os.chmod(temporary, self.file_permissions_mode)
            os.replace(temporary, full_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return name

    def save_hashing(self, stream: IO[bytes]) -> tuple[str, int]:
        """Copy `stream` in while hashing it, then move it under its digest's name: the source is
        read once, in chunks, and never held. Returns (sha256, size)."""
        os.makedirs(self.location, mode=self.directory_permissions_mode or 0o777, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.location, prefix=".incoming-")
        try:
            digest, size = hashlib.sha256(), 0
            with os.fdopen(handle, "wb") as out:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            full_path = self.path(blob_name(digest.hexdigest()))
            os.makedirs(os.path.dirname(full_path), mode=self.directory_permissions_mode or 0o777, exist_ok=True)
            if self.file_permissions_mode is not None:
                os.chmod(temporary, self.file_permissions_mode)
            os.replace(temporary, full_path)  # the same bytes may be there already: harmless
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return digest.hexdigest(), size


def __getattr__(name: str) -> Any:
    # The S3 backend is imported when settings name it, so processes on local files never pay
    # for boto3's import (~0.2 s).
    if name == "ContentAddressedS3Storage":
        from core.storage_s3 import ContentAddressedS3Storage

        return ContentAddressedS3Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def blob_storage() -> Storage:
    return storages["blobs"]


def blob_name(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def sha256_of_file(stream: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def blob_exists(sha256: str) -> bool:
    return blob_storage().exists(blob_name(sha256))


def _save(sha256: str, content: File) -> None:
    storage = blob_storage()
    name = blob_name(sha256)
    if storage.exists(name):
        return
    saved = storage.save(name, content)
    if saved != name:
        # Another writer stored the same bytes between our check and our save: keep theirs.
        storage.delete(saved)


def blob_put_bytes(data: bytes, *, sha256: str | None = None) -> str:
    """Store bytes; return their sha256. Callers that already hashed them pass it in."""
    digest = sha256 or hashlib.sha256(data).hexdigest()
    _save(digest, ContentFile(data))
    return digest


def blob_put_stream(stream: IO[bytes], *, sha256: str | None = None) -> tuple[str, int]:
    """Store a seekable stream from its start without reading it into memory; return (sha256,
    size). A caller that hashed the bytes as they arrived passes the digest in; otherwise the
    local store hashes while it copies (one pass), any other store hashes first, then uploads."""
    stream.seek(0)
    storage = blob_storage()
    if sha256 is None and isinstance(storage, ContentAddressedFileSystemStorage):
        return storage.save_hashing(stream)
    if sha256 is None:
        sha256, size = sha256_of_file(stream)
    else:
        size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    _save(sha256, File(stream))
    return sha256, size


def blob_open(sha256: str) -> IO[bytes]:
    return blob_storage().open(blob_name(sha256), "rb")


def blob_delete(sha256: str) -> None:
    """Purge a blob (erasure requests only), and every file derived from it (a thumbnail shows
    the same person); the database row that named it stays."""
    storage = blob_storage()
    folder = _derived_folder(sha256)
    try:
        _, labels = storage.listdir(folder)
    except FileNotFoundError:
        labels = []
    for label in labels:
        storage.delete(f"{folder}/{label}")
    storage.delete(blob_name(sha256))


# --- Files derived from a blob (thumbnails) ---------------------------------------------------
# Stored beside the blobs under the source's digest and a label that says how they were made
# ("thumbnail-256-v1.webp"): derived once, by whoever gets there first, the same for every
# asset that holds those bytes, and purged with the blob.
_LABEL = re.compile(r"^[a-z0-9][a-z0-9.-]{0,63}$")


def _derived_folder(sha256: str) -> str:
    return f"derived/{blob_name(sha256)}"


def derived_name(sha256: str, label: str) -> str:
    if not _LABEL.match(label):
        raise ValueError(f"not a derived file label: {label!r}")
    return f"{_derived_folder(sha256)}/{label}"


def derived_exists(sha256: str, label: str) -> bool:
    return blob_storage().exists(derived_name(sha256, label))


def derived_put(sha256: str, label: str, data: bytes) -> None:
    """Store what was derived from blob `sha256` (atomically on the local store: a reader sees
    the whole file or none)."""
    storage, name = blob_storage(), derived_name(sha256, label)
    if storage.exists(name):
        return
    saved = storage.save(name, ContentFile(data))
    if saved != name:
        storage.delete(saved)  # another worker derived it meanwhile: keep theirs


def derived_open(sha256: str, label: str) -> IO[bytes]:
    return blob_storage().open(derived_name(sha256, label), "rb")
