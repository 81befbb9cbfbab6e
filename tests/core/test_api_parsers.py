"""The API's multipart parser accounts for every part, however the body arrives in pieces."""

from __future__ import annotations

import io

import pytest
from django.test import RequestFactory

from core.api.parsers import MultiPartParser
from core.exceptions import ApplicationError
from tests.provenance.factories import raw_multipart


class Trickle(io.BytesIO):
    """A request body that arrives a few bytes at a time, so boundaries straddle reads."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__(data)
        self._step = step

    def read(self, size: int | None = -1) -> bytes:
        return super().read(min(self._step, size) if size is not None and size >= 0 else self._step)


def parse(body: bytes, content_type: str, step: int):
    request = RequestFactory().generic("POST", "/api/v1/ingest/", body, content_type=content_type)
    return MultiPartParser().parse(Trickle(body, step), content_type, {"request": request})


PARTS = [("dataset", None, b"portraits"), ("files", b"a.jpg", b"A" * 300), ("files", b"b.jpg", b"B" * 17)]


@pytest.mark.parametrize("step", [1, 3, 7, 64, 100_000])
def test_every_part_is_read_whatever_the_size_of_the_reads(step):
    body, content_type = raw_multipart(PARTS)

    parsed = parse(body, content_type, step)

    assert parsed.data.getlist("dataset") == ["portraits"]
    assert [f.name for f in parsed.files.getlist("files")] == ["a.jpg", "b.jpg"]


@pytest.mark.parametrize("step", [1, 3, 7, 64, 100_000])
@pytest.mark.parametrize("bad_name", [b"\xff\xfe.png", b"..", b"folder/"])
def test_a_part_django_would_skip_refuses_the_request_whatever_the_size_of_the_reads(step, bad_name):
    body, content_type = raw_multipart([*PARTS, ("files", bad_name, b"C" * 50)])

    with pytest.raises(ApplicationError) as refused:
        parse(body, content_type, step)

    assert refused.value.code == "unreadable_parts"
    assert refused.value.extra == {"parts_received": 4, "parts_read": 3}
