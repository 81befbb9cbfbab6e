"""A read-only view of a seekable file that answers the few `bytes` operations the metadata and
opt-out readers use (len, indexing, slicing, find, startswith, `in`) by reading the file in
chunks, so a reader written for bytes scans a 200 MB upload without ever holding it.

Every read seeks first: the same file may be shared with Pillow and the C2PA reader.
"""

from __future__ import annotations

import io
import os
from typing import IO, overload

CHUNK = 1024 * 1024
# Small reads (a segment marker, a chunk header) are served from one cached window, so walking
# a container's segments costs about one read per WINDOW bytes, not one per field.
WINDOW = 64 * 1024


class FileBytes:
    def __init__(self, stream: IO[bytes], size: int | None = None) -> None:
        self._stream = stream
        self._size = stream.seek(0, os.SEEK_END) if size is None else size
        self._window_start = 0
        self._window = b""

    def __len__(self) -> int:
        return self._size

    def stream(self) -> IO[bytes]:
        """The file itself, at its start."""
        self._stream.seek(0)
        return self._stream

    def _read(self, start: int, length: int) -> bytes:
        self._stream.seek(start)
        return self._stream.read(length)

    def _cached(self, start: int, length: int) -> bytes:
        if length > WINDOW:
            return self._read(start, length)
        if not (self._window_start <= start and start + length <= self._window_start + len(self._window)):
            self._window_start, self._window = start, self._read(start, WINDOW)
        offset = start - self._window_start
        return self._window[offset : offset + length]

    @overload
    def __getitem__(self, key: int) -> int: ...
    @overload
    def __getitem__(self, key: slice) -> bytes: ...
    def __getitem__(self, key: int | slice) -> int | bytes:
        if isinstance(key, slice):
            start, stop, step = key.indices(self._size)
            if step != 1:
                raise ValueError("FileBytes slices have no step")
            return self._cached(start, stop - start) if stop > start else b""
        index = key + self._size if key < 0 else key
        if not 0 <= index < self._size:
            raise IndexError("FileBytes index out of range")
        return self._cached(index, 1)[0]

    def startswith(self, prefix: bytes) -> bool:
        return self[: len(prefix)] == prefix

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """The lowest index of `sub` in [start, end), or -1; as `bytes.find`."""
        start, end, _ = slice(start, end).indices(self._size)
        if not sub:
            return start if start <= end else -1
        overlap = len(sub) - 1  # a match that straddles two chunks is found in the first
        position = start
        while position < end:
            stop = min(end, position + CHUNK + overlap)
            found = self._read(position, stop - position).find(sub)
            if found >= 0:
                return position + found
            if stop >= end:
                break
            position += CHUNK
        return -1

    def __contains__(self, sub: bytes) -> bool:
        return self.find(sub) >= 0


ByteSource = bytes | FileBytes


def as_stream(data: ByteSource) -> IO[bytes]:
    """A seekable stream over `data`, at its start."""
    return data.stream() if isinstance(data, FileBytes) else io.BytesIO(data)
