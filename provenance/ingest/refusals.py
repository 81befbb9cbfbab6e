"""Why a file was refused: the reasons of the command-line contract."""

from __future__ import annotations

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
