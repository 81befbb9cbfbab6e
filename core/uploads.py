"""How uploaded files arrive: every one streams to a temporary file on disk, whatever its size,
and is hashed as its chunks arrive, so no upload is ever held in memory and none is read twice
just to learn its digest. (Django's default keeps each file under FILE_UPLOAD_MAX_MEMORY_SIZE in
memory for the whole request: a thousand such files would be held at once.)"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler


class HashedUploadedFile(TemporaryUploadedFile):
    """An upload on disk with the sha256 of its bytes, computed as they arrived."""

    sha256: str = ""


class HashingFileUploadHandler(TemporaryFileUploadHandler):
    """FILE_UPLOAD_HANDLERS' only handler."""

    file: HashedUploadedFile

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super(TemporaryFileUploadHandler, self).new_file(*args, **kwargs)
        self.file = HashedUploadedFile(self.file_name or "", self.content_type, 0, self.charset, self.content_type_extra)
        self._digest = hashlib.sha256()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._digest.update(raw_data)
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> HashedUploadedFile:
        self.file.seek(0)
        self.file.size = file_size
        self.file.sha256 = self._digest.hexdigest()
        return self.file


def uploaded_sha256(upload: object) -> str | None:
    """The digest an upload was hashed to on arrival, or None (an upload made in code)."""
    if isinstance(upload, HashedUploadedFile) and upload.sha256:
        return upload.sha256
    return None
