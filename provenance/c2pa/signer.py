"""The configured C2PA signer: one pluggable backend, chosen by CLEANROOM_SIGNER["BACKEND"].

- `files`: the certificate chain (PEM, leaf first) and private key from CERT_CHAIN and KEY
  (what `pki init` writes).
- `callback`: CALLBACK names a function `sign(data: bytes) -> bytes` returning the raw ES256
  signature r||s (64 bytes, not DER), so the key can stay in an HSM or a KMS; the chain still
  comes from CERT_CHAIN.

A signer is made once per process and configuration (see `_cached_signer`): native handles
never cross a fork (Celery's prefork workers) and never outlive the settings or the files they
were made from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import c2pa
from django.conf import settings
from django.utils.module_loading import import_string

from core.exceptions import ApplicationError

SIGNING_ALGORITHM = c2pa.C2paSigningAlg.ES256


def _not_configured(message: str) -> ApplicationError:
    return ApplicationError(message, code="signer_not_configured", status=503)


def _read_configured_file(setting: str) -> bytes:
    path = Path(settings.CLEANROOM_SIGNER[setting] or "")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _not_configured(
            f"the signer's {setting} ({path}) cannot be read: {exc.strerror or exc}; run `pki init` "
            "or point CLEANROOM_SIGNER_CERT_CHAIN / CLEANROOM_SIGNER_KEY at your own files"
        ) from None


def _tsa_url() -> str | None:
    return settings.CLEANROOM_SIGNER.get("TSA_URL") or None


def files_signer() -> c2pa.Signer:
    chain, key = _read_configured_file("CERT_CHAIN"), _read_configured_file("KEY")
    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(SIGNING_ALGORITHM, chain, key, _tsa_url()))


def callback_signer() -> c2pa.Signer:
    dotted_path = settings.CLEANROOM_SIGNER.get("CALLBACK") or ""
    try:
        sign: Callable[[bytes], bytes] = import_string(dotted_path)
    except ImportError as exc:
        raise _not_configured(f"the signing callback {dotted_path!r} cannot be imported: {exc}") from None
    chain = _read_configured_file("CERT_CHAIN").decode("ascii")
    return c2pa.Signer.from_callback(sign, SIGNING_ALGORITHM, chain, _tsa_url())


BACKENDS: dict[str, Callable[[], c2pa.Signer]] = {"files": files_signer, "callback": callback_signer}


# One signer per process and configuration: making one parses the key and the chain, which was
# a third of an output's signing time. Keyed by process id (a native handle never crosses a
# fork), by the settings, and by the files' identity (a rotated key is picked up at once).
_SIGNERS: dict[tuple, c2pa.Signer] = {}


def _file_identity(setting: str) -> tuple:
    path = settings.CLEANROOM_SIGNER.get(setting) or ""
    try:
        stat = os.stat(path)
    except OSError:
        return (path, None)
    return (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _signer_key(backend: str) -> tuple:
    return (
        os.getpid(),
        backend,
        settings.CLEANROOM_SIGNER.get("CALLBACK") or "",
        _tsa_url(),
        _file_identity("CERT_CHAIN"),
        _file_identity("KEY") if backend == "files" else None,
    )


def _cached_signer(backend: str) -> c2pa.Signer:
    key = _signer_key(backend)
    signer = _SIGNERS.get(key)
    if signer is None:
        for stale_key in list(_SIGNERS):
            stale = _SIGNERS.pop(stale_key)
            if stale_key[0] == os.getpid():
                stale.close()
        try:
            signer = BACKENDS[backend]()
        except c2pa.C2paError as exc:
            raise _not_configured(f"the {backend} signer cannot be created: {exc}") from None
        _SIGNERS[key] = signer
    return signer


@contextmanager
def open_signer() -> Iterator[c2pa.Signer]:
    """The configured backend's signer (with the TSA URL when one is set)."""
    backend = settings.CLEANROOM_SIGNER.get("BACKEND", "")
    if backend not in BACKENDS:
        raise _not_configured(f"unknown signer backend {backend!r} (one of {', '.join(sorted(BACKENDS))})")
    signer = _cached_signer(backend)
    try:
        yield signer
    except c2pa.C2paError.Signature as exc:
        _SIGNERS.clear()  # a signer that failed once is not trusted again
        raise _signing_failed(backend, exc) from None


def _signing_failed(backend: str, exc: Exception) -> ApplicationError:
    tsa_url = _tsa_url()
    if tsa_url and "http" in str(exc):
        return ApplicationError(f"the time-stamp authority {tsa_url} did not answer: {exc}", code="tsa_unavailable", status=503)
    return _not_configured(f"the {backend} signer made a signature its certificate does not verify (wrong key?): {exc}")


def trust_anchors_pem() -> str:
    """The PEM bundle of roots a manifest must chain to to read Trusted (CLEANROOM_SIGNER["TRUST_ANCHORS"])."""
    path = Path(settings.CLEANROOM_SIGNER["TRUST_ANCHORS"] or "")
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ApplicationError(
            f"the trust anchors ({path}) cannot be read: {getattr(exc, 'strerror', None) or exc}; run `pki init`",
            code="trust_anchors_missing",
            status=503,
        ) from None
