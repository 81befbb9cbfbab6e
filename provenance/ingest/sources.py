"""Turn the paths given to `ingest` into candidate files: loose files, folders and ZIP archives.

No file is ever read whole into memory. A loose file is kept open and read where it lies, an
upload is read from the temporary file Django streamed it to, and an archive is streamed member
by member, each member copied out to a spooled temporary file (in memory up to
SPOOL_MEMORY_BYTES, on disk beyond), with bounds on member size, compression ratio, member
count, total size and nesting depth. Each file is hashed as it is read (an upload was hashed as
it arrived). A member whose name could escape a folder (`..`, an absolute path, a drive
letter) or that is a symbolic link is refused as `unsafe_path`; nothing is ever extracted to
disk under its own name.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from core.uploads import uploaded_sha256
from provenance.ingest.refusals import RefusalReason, plain_error

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
CAPTION_SUFFIX = ".txt"
_READ_CHUNK = 1024 * 1024
# An archive member up to this size is copied out to memory, a larger one to a temporary file.
SPOOL_MEMORY_BYTES = 1024 * 1024
# What can go wrong opening a damaged archive or reading its members (zlib.error: a corrupt
# deflate stream; NotImplementedError: a header that claims a ZIP version or method Python lacks).
_ZIP_ERRORS = (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, ValueError, zlib.error)


@dataclass(frozen=True)
class ArchiveLimits:
    max_file_bytes: int
    max_members: int
    max_total_bytes: int
    max_ratio: int
    max_depth: int
    max_caption_chars: int


@dataclass
class Candidate:
    """One file to ingest, or one already refused (`refusal` set, no `file`).

    `file` is seekable and belongs to the candidate: whoever takes it closes it (`close()`).
    `sha256` and `size` were taken as the file was read."""

    path: str
    file: IO[bytes] | None = None
    sha256: str = ""
    size: int = 0
    caption: str = ""
    refusal: tuple[RefusalReason, str] | None = None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def display_path(path: str) -> str:
    """A path as reported and recorded: file names that are not UTF-8 (legal on Linux) show
    their odd bytes as `\\xNN`, and NUL as `\\x00`, since JSON output and PostgreSQL text can hold
    neither lone surrogates nor NUL."""
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text.replace("\x00", "\\x00")


def _refused(path: str, reason: RefusalReason, detail: str) -> Candidate:
    return Candidate(path=display_path(path), refusal=(reason, detail))


def _decode_caption(raw: bytes, limit: int) -> str:
    return raw.decode("utf-8", errors="replace").replace("\x00", "").strip()[:limit]


def _is_zip(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC)


def _read_bounded(stream, limit: int) -> bytes | None:
    """Read at most `limit` bytes (a caption); None when the stream holds more."""
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _hash_bounded(stream, limit: int, copy_to=None) -> tuple[str, int] | None:
    """Hash the stream (copying it to `copy_to` as it goes); None past `limit` bytes (a
    header that understated the size)."""
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        digest.update(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return digest.hexdigest(), size


def _spooled(stream, limit: int) -> tuple[IO[bytes], str, int] | None:
    """The stream copied out (hashed on the way) to a spooled temporary file, or None past `limit`."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 - the candidate owns it
    try:
        hashed = _hash_bounded(stream, limit, copy_to=spool)
    except BaseException:
        spool.close()
        raise
    if hashed is None:
        spool.close()
        return None
    spool.seek(0)
    digest, size = hashed
    return spool, digest, size


def _stream_size(stream) -> int:
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    return size


def _caption_pairs(names: list[str]) -> tuple[dict[str, str], set[str]]:
    """Map each file to its same-name `.txt` caption; return (captions, names that are captions)."""
    if not any(name.lower().endswith(CAPTION_SUFFIX) for name in names):
        return {}, set()  # the common case, without a path object per file
    by_stem: dict[tuple[str, str], list[str]] = {}
    for name in names:
        pure = PurePosixPath(name)
        by_stem.setdefault((str(pure.parent), pure.stem), []).append(name)
    captions, caption_names = {}, set()
    for siblings in by_stem.values():
        texts = [n for n in siblings if n.lower().endswith(CAPTION_SUFFIX)]
        others = [n for n in siblings if not n.lower().endswith(CAPTION_SUFFIX)]
        if texts and others:
            for other in others:
                captions[other] = texts[0]
            caption_names.update(texts)
    return captions, caption_names


def unsafe_member_name(name: str) -> str | None:
    """Why a ZIP member name is unsafe to use as a path, or None."""
    if "\x00" in name:
        return "member name contains a NUL byte"
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return "member has an absolute path"
    if any(part == ".." for part in normalised.split("/")):
        return "member path contains '..' (zip-slip)"
    return None


class CandidateSource:
    def __init__(self, limits: ArchiveLimits):
        self.limits = limits

    # -- counting (for the progress bar) ---------------------------------------------------
    def count(self, paths: list[str]) -> int:
        total = 0
        for path in paths:
            p = Path(path)
            if p.is_dir() and not p.is_symlink():
                total += sum(len(files) for _, _, files in os.walk(p))
            elif p.is_file() and not p.is_symlink() and self._file_is_zip(p):
                try:
                    with zipfile.ZipFile(p) as archive:
                        total += len(archive.infolist())
                except _ZIP_ERRORS:
                    total += 1
            else:
                total += 1
        return total

    @staticmethod
    def _file_is_zip(path: Path) -> bool:
        try:
            with path.open("rb") as handle:
                return _is_zip(handle.read(4))
        except OSError:
            return False

    # -- iteration --------------------------------------------------------------------------
    def candidates(self, paths: list[str]) -> Iterator[Candidate]:
        loose = [p for p in paths if not Path(p).is_dir()]
        captions, caption_files = _caption_pairs(loose)
        for path in paths:
            p = Path(path)
            if p.is_symlink():
                yield _refused(path, RefusalReason.UNSAFE_PATH, "symbolic links are not followed")
            elif p.is_dir():
                yield from self._folder(p)
            elif path in caption_files:
                continue
            else:
                yield from self._file(path, caption_path=captions.get(path) or self._sibling_caption(p))

    def uploads(self, files: list[tuple[str, BinaryIO]]) -> Iterator[Candidate]:
        """Uploaded files (REST): the same rules, names as the client sent them."""
        captions, caption_files = _caption_pairs([name for name, _ in files])
        streams = dict(files)
        for name, stream in files:
            if name in caption_files:
                continue
            unsafe = unsafe_member_name(name)
            if unsafe:
                yield _refused(name, RefusalReason.UNSAFE_PATH, unsafe.replace("member", "file name"))
                continue
            stream.seek(0)
            if _is_zip(stream.read(4)):
                stream.seek(0)
                try:
                    archive = zipfile.ZipFile(stream)
                except _ZIP_ERRORS as exc:
                    yield _refused(name, RefusalReason.INVALID_IMAGE, f"not a readable ZIP archive: {plain_error(exc)}")
                    continue
                with archive:
                    yield from self._archive(archive, prefix=name, depth=1, budget=[self.limits.max_total_bytes])
                continue
            size = _stream_size(stream)
            if size > self.limits.max_file_bytes:
                yield _refused(name, RefusalReason.TOO_LARGE, f"{size} bytes; the limit is {self.limits.max_file_bytes}")
                continue
            digest = uploaded_sha256(stream)
            if digest is None:  # an upload made in code, not through the upload handler
                hashed = _hash_bounded(stream, self.limits.max_file_bytes)
                if hashed is None:
                    yield _refused(name, RefusalReason.TOO_LARGE, f"more than {self.limits.max_file_bytes} bytes")
                    continue
                digest, size = hashed
            caption = ""
            if name in captions:
                caption_stream = streams[captions[name]]
                caption_stream.seek(0)
                caption = _decode_caption(caption_stream.read(self.limits.max_caption_chars * 4), self.limits.max_caption_chars)
            stream.seek(0)
            yield Candidate(path=display_path(name), file=stream, sha256=digest, size=size, caption=caption)

    def _sibling_caption(self, path: Path) -> str | None:
        caption = path.with_suffix(CAPTION_SUFFIX)
        return str(caption) if caption != path and caption.is_file() and not caption.is_symlink() else None

    def _folder(self, folder: Path) -> Iterator[Candidate]:
        for root, dirs, files in os.walk(folder, followlinks=False):
            dirs.sort()
            names = [os.path.join(root, name) for name in sorted(files)]
            captions, caption_files = _caption_pairs(names)
            for name in names:
                if name in caption_files:
                    continue
                if os.path.islink(name):
                    yield _refused(name, RefusalReason.UNSAFE_PATH, "symbolic links are not followed")
                    continue
                yield from self._file(name, caption_path=captions.get(name))
            for directory in list(dirs):
                if os.path.islink(os.path.join(root, directory)):
                    dirs.remove(directory)
                    yield _refused(os.path.join(root, directory), RefusalReason.UNSAFE_PATH, "symbolic links are not followed")

    def _file(self, path: str, *, caption_path: str | None) -> Iterator[Candidate]:
        try:
            info = os.stat(path)
        except OSError as exc:
            yield _refused(path, RefusalReason.INVALID_IMAGE, f"cannot read the file: {exc.strerror}")
            return
        if not stat.S_ISREG(info.st_mode):
            yield _refused(path, RefusalReason.UNSUPPORTED_TYPE, "not a regular file")
            return
        if self._file_is_zip(Path(path)):
            yield from self._archive_file(path)
            return
        if info.st_size > self.limits.max_file_bytes:
            yield _refused(path, RefusalReason.TOO_LARGE, f"{info.st_size} bytes; the limit is {self.limits.max_file_bytes}")
            return
        handle = None
        try:
            handle = open(path, "rb")  # noqa: SIM115 - the candidate owns it and closes it
            hashed = _hash_bounded(handle, self.limits.max_file_bytes)
            caption = ""
            if caption_path:
                with open(caption_path, "rb") as caption_file:
                    caption = _decode_caption(caption_file.read(self.limits.max_caption_chars * 4), self.limits.max_caption_chars)
        except OSError as exc:
            if handle is not None:
                handle.close()
            yield _refused(path, RefusalReason.INVALID_IMAGE, f"cannot read the file: {exc.strerror}")
            return
        if hashed is None:
            handle.close()
            yield _refused(path, RefusalReason.TOO_LARGE, f"more than {self.limits.max_file_bytes} bytes")
            return
        handle.seek(0)
        digest, size = hashed
        yield Candidate(path=display_path(path), file=handle, sha256=digest, size=size, caption=caption)

    def _archive_file(self, path: str) -> Iterator[Candidate]:
        try:
            archive = zipfile.ZipFile(path)
        except _ZIP_ERRORS as exc:
            yield _refused(path, RefusalReason.INVALID_IMAGE, f"not a readable ZIP archive: {plain_error(exc)}")
            return
        with archive:
            yield from self._archive(archive, prefix=path, depth=1, budget=[self.limits.max_total_bytes])

    def _archive(self, archive: zipfile.ZipFile, *, prefix: str, depth: int, budget: list[int]) -> Iterator[Candidate]:
        try:
            members = [info for info in archive.infolist() if not info.is_dir()]
        except Exception as exc:
            yield _refused(prefix, RefusalReason.INVALID_IMAGE, f"unreadable ZIP directory: {plain_error(exc)}")
            return
        if len(members) > self.limits.max_members:
            yield _refused(prefix, RefusalReason.TOO_LARGE, f"{len(members)} members; the limit is {self.limits.max_members}")
            return
        captions, caption_names = _caption_pairs([m.filename for m in members])
        by_name = {m.filename: m for m in members}
        for info in members:
            if info.filename in caption_names:
                continue
            path = f"{prefix}!{info.filename}"
            refusal = self._member_refusal(info, budget)
            if refusal is not None:
                yield _refused(path, *refusal)
                continue
            try:
                with archive.open(info) as stream:
                    spooled = _spooled(stream, min(self.limits.max_file_bytes, budget[0]))
            except _ZIP_ERRORS as exc:
                yield _refused(path, RefusalReason.INVALID_IMAGE, f"cannot extract the member: {plain_error(exc)}")
                continue
            if spooled is None:
                yield _refused(path, RefusalReason.TOO_LARGE, "member expands beyond the size limit (its header understated it)")
                budget[0] = 0 if budget[0] <= self.limits.max_file_bytes else budget[0] - self.limits.max_file_bytes
                continue
            member, digest, size = spooled
            budget[0] -= size
            if _is_zip(member.read(4)):
                try:
                    yield from self._nested(member, path=path, depth=depth, budget=budget)
                finally:
                    member.close()
                continue
            member.seek(0)
            caption = ""
            caption_info = by_name.get(captions.get(info.filename, ""))
            if caption_info is not None and unsafe_member_name(caption_info.filename) is None:
                try:
                    with archive.open(caption_info) as stream:
                        raw = _read_bounded(stream, self.limits.max_caption_chars * 4) or b""
                    caption = _decode_caption(raw, self.limits.max_caption_chars)
                except Exception:
                    caption = ""
            yield Candidate(path=display_path(path), file=member, sha256=digest, size=size, caption=caption)

    def _member_refusal(self, info: zipfile.ZipInfo, budget: list[int]) -> tuple[RefusalReason, str] | None:
        unsafe = unsafe_member_name(info.filename)
        if unsafe:
            return RefusalReason.UNSAFE_PATH, unsafe
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            return RefusalReason.UNSAFE_PATH, "member is a symbolic link"
        if info.flag_bits & 0x1:
            return RefusalReason.UNSUPPORTED_TYPE, "member is encrypted"
        if info.file_size > self.limits.max_file_bytes:
            return RefusalReason.TOO_LARGE, f"member is {info.file_size} bytes; the limit is {self.limits.max_file_bytes}"
        if info.compress_size and info.file_size > 1024 * 1024 and info.file_size / info.compress_size > self.limits.max_ratio:
            ratio = info.file_size // info.compress_size
            return RefusalReason.TOO_LARGE, f"compression ratio {ratio}:1 exceeds {self.limits.max_ratio}:1 (zip bomb guard)"
        if budget[0] <= 0 or info.file_size > budget[0]:
            return RefusalReason.TOO_LARGE, "the archive's total expanded size exceeds its limit (zip bomb guard)"
        return None

    def _nested(self, member: IO[bytes], *, path: str, depth: int, budget: list[int]) -> Iterator[Candidate]:
        if depth >= self.limits.max_depth:
            yield _refused(
                path, RefusalReason.UNSUPPORTED_TYPE, f"archives nested deeper than {self.limits.max_depth} levels are not opened"
            )
            return
        try:
            member.seek(0)
            inner = zipfile.ZipFile(member)
        except _ZIP_ERRORS as exc:
            yield _refused(path, RefusalReason.INVALID_IMAGE, f"not a readable ZIP archive: {plain_error(exc)}")
            return
        with inner:
            yield from self._archive(inner, prefix=path, depth=depth + 1, budget=budget)
