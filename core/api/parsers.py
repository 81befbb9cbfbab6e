"""The API's parsers. JSON: DRF's, with nesting bounded (core/json_bounds.py); the body's size
is bounded before parsing by Django's DATA_UPLOAD_MAX_MEMORY_SIZE (DRF reads JSON through
`request.body`), which `core.api.errors.exception_handler` answers with 413 `too_large`.

Multipart: Django's, made to account for every part it reads. Django's parser skips a part whose
headers are not UTF-8 (a file name in another encoding), that has no field name, or whose file
name is nothing once sanitised (`..`), and says nothing. An upload must never lose a file
silently, so the parser counts the parts on the wire as they stream past and refuses the whole
request (400 `unreadable_parts`) when it read fewer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, cast

from django.utils.http import parse_header_parameters
from rest_framework import parsers
from rest_framework.parsers import JSONParser

from core.exceptions import ApplicationError
from core.json_bounds import JsonTooDeep, check_json_depth, max_json_depth

if TYPE_CHECKING:
    from django.http.request import _ImmutableQueryDict  # a name of django-stubs only
    from django.utils.datastructures import MultiValueDict

WHAT = "the request body"


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise JsonTooDeep(max_json_depth(), WHAT) from None
        return check_json_depth(data, what=WHAT)


class _DelimiterCounter:
    """A read-only stream that counts `delimiter` in the bytes read through it, also where one
    straddles two reads."""

    def __init__(self, stream: IO[bytes], delimiter: bytes) -> None:
        self._stream = stream
        self._delimiter = delimiter
        self._tail = b""
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        window = self._tail + chunk
        self.count += window.count(self._delimiter)
        # Keep what could be the start of a delimiter that the next read completes; a whole
        # delimiter never fits in the kept bytes, so none is counted twice.
        self._tail = window[-(len(self._delimiter) - 1) :]
        return chunk


def _boundary(media_type: str) -> bytes | None:
    try:
        _, params = parse_header_parameters(media_type)
    except ValueError:
        return None
    boundary = params.get("boundary", "")
    return boundary.encode("ascii", "replace") if boundary else None


def _values(multi: Any) -> int:
    return sum(len(multi.getlist(key)) for key in multi)


class MultiPartParser(parsers.MultiPartParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> parsers.DataAndFiles[_ImmutableQueryDict, MultiValueDict]:
        boundary = _boundary(media_type or "")
        if boundary is None:  # Django refuses it with its own message
            return super().parse(stream, media_type, parser_context)
        # Django splits the body wherever `--boundary` occurs: the parts lie between the first
        # occurrence and the last (the closing `--boundary--`).
        counter = _DelimiterCounter(stream, b"--" + boundary)
        parsed = super().parse(cast(IO[Any], counter), media_type, parser_context)  # Django only calls read()
        received = max(counter.count - 1, 0)
        read = _values(parsed.data) + _values(parsed.files)
        if read < received:
            raise ApplicationError(
                f"{received - read} of the {received} parts of this upload could not be read (a part with no field "
                "name, or a file name that is not UTF-8 or is empty once its folders are removed); nothing was "
                "accepted: rename the file and send the upload again",
                code="unreadable_parts",
                extra={"parts_received": received, "parts_read": read},
            )
        return parsed
