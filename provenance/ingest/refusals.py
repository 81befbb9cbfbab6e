"""Why a file was refused: the reasons of the command-line contract."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
