"""What a C2PA signer backend is (the class CLEANROOM_SIGNER['BACKEND'] names), and the settings
every backend reads the same way."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Hashable
from pathlib import Path
from typing import ClassVar

import c2pa
from django.conf import settings

from core.exceptions import ApplicationError

SIGNING_ALGORITHM = c2pa.C2paSigningAlg.ES256


class SignerBackend(ABC):
    """Makes the c2pa.Signer for the current CLEANROOM_SIGNER; provenance/c2pa/signer.py keeps one
    per process and `identity`."""

    name: ClassVar[str]

    @abstractmethod
    def create(self) -> c2pa.Signer:
        """A new signer; ApplicationError (signer_not_configured) when the settings cannot make one."""

    def identity(self) -> tuple[Hashable, ...]:
        """Everything whose change must make a new signer (a rotated certificate, another TSA)."""
        return (tsa_url(), file_identity("CERT_CHAIN"))


def not_configured(message: str) -> ApplicationError:
    return ApplicationError(message, code="signer_not_configured", status=503)


def read_configured_file(setting: str) -> bytes:
    path = Path(settings.CLEANROOM_SIGNER[setting] or "")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise not_configured(
            f"the signer's {setting} ({path}) cannot be read: {exc.strerror or exc}; run `pki init` "
            "or point CLEANROOM_SIGNER_CERT_CHAIN / CLEANROOM_SIGNER_KEY at your own files"
        ) from None


def tsa_url() -> str | None:
    return settings.CLEANROOM_SIGNER.get("TSA_URL") or None


def file_identity(setting: str) -> tuple[Hashable, ...]:
    path = settings.CLEANROOM_SIGNER.get(setting) or ""
    try:
        stat = os.stat(path)
    except OSError:
        return (path, None)
    return (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)
