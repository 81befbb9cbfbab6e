"""Why a file was refused: the reasons of the command-line contract."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# `<_io.BytesIO object at 0x7f…>`, `<tempfile.SpooledTemporaryFile object at 0x…>`: how a
# library names a file it cannot read. It says nothing to a person and leaks an address.
_OBJECT_REPR = re.compile(r"<[^<>]*? at 0x[0-9a-fA-F]+>")


class RefusalReason(StrEnum):
    OPTOUT = "optout"
    INVALID_IMAGE = "invalid_image"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_LARGE = "too_large"
    DUPLICATE = "duplicate"
    NO_CONSENT = "no_consent"
    UNSAFE_PATH = "unsafe_path"


class Refused(Exception):
    def __init__(self, reason: RefusalReason, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class FileRefusal:
    """One file of a batch that was refused, and why (the contract's `refused` row)."""

    path: str
    reason: RefusalReason
    detail: str


def plain_error(exc: BaseException) -> str:
    """An exception's message for a person (a refusal's detail, an auditor's error), without
    object reprs: "cannot identify image file <_io.BytesIO object at 0x7f…>" reads
    "cannot identify image file"."""
    text = re.sub(r"\s{2,}", " ", _OBJECT_REPR.sub("", str(exc))).strip(" :;,")
    return text or type(exc).__name__
