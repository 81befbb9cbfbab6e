"""The configured C2PA signer: one pluggable backend, named by CLEANROOM_SIGNER["BACKEND"]
(provenance/c2pa/signers/: `files`, `callback`, or the dotted path of a SignerBackend).

A signer is made once per process and configuration (see `_cached_signer`): native handles
never cross a fork (Celery's prefork workers) and never outlive the settings or the files they
were made from.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path

import c2pa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.exceptions import ApplicationError
from provenance.c2pa.signers import SIGNERS
from provenance.c2pa.signers.base import SIGNING_ALGORITHM, not_configured, tsa_url

__all__ = ["SIGNING_ALGORITHM", "callback_signer", "files_signer", "open_signer", "signer_loads", "trust_anchors_pem"]


def refuse_in_web_process() -> None:
    """Signing belongs to the workers: the web process (CLEANROOM_PROCESS=web) has no key."""
    if getattr(settings, "CLEANROOM_PROCESS", "") == "web":
        raise not_configured(
            "the web process does not sign (CLEANROOM_PROCESS=web holds no signing key); "
            "signing runs on a worker, which has CLEANROOM_SIGNER_KEY or CLEANROOM_SIGNER_CALLBACK"
        )


def files_signer() -> c2pa.Signer:
    """A new signer from CERT_CHAIN and KEY, whichever backend is configured."""
    refuse_in_web_process()
    return SIGNERS.load("files")().create()


def callback_signer() -> c2pa.Signer:
    """A new signer through the CALLBACK function, whichever backend is configured."""
    refuse_in_web_process()
    return SIGNERS.load("callback")().create()


# One signer per process and configuration: making one parses the key and the chain, which was
# a third of an output's signing time. Keyed by process id (a native handle never crosses a
# fork), by the backend, and by what the backend says it was made from (a rotated key is picked
# up at once).
_SIGNERS: dict[tuple[Hashable, ...], c2pa.Signer] = {}


def _cached_signer(backend: str) -> c2pa.Signer:
    try:
        made_by = SIGNERS.load(backend)()
    except ImproperlyConfigured as exc:
        raise not_configured(str(exc)) from None
    key = (os.getpid(), backend, *made_by.identity())
    signer = _SIGNERS.get(key)
    if signer is None:
        for stale_key in list(_SIGNERS):
            stale = _SIGNERS.pop(stale_key)
            if stale_key[0] == os.getpid():
                stale.close()
        try:
            signer = made_by.create()
        except c2pa.C2paError as exc:
            raise not_configured(f"the {backend} signer cannot be created: {exc}") from None
        _SIGNERS[key] = signer
    return signer


@contextmanager
def open_signer() -> Iterator[c2pa.Signer]:
    """The configured backend's signer (with the TSA URL when one is set)."""
    refuse_in_web_process()
    backend = settings.CLEANROOM_SIGNER.get("BACKEND", "")
    signer = _cached_signer(backend)
    try:
        yield signer
    except c2pa.C2paError.Signature as exc:
        _SIGNERS.clear()  # a signer that failed once is not trusted again
        raise _signing_failed(backend, exc) from None


def signer_loads() -> None:
    """A worker's readiness check (core/health.py): the configured signer can be made; raises
    ApplicationError `signer_not_configured` when it cannot."""
    with open_signer():
        pass


def _signing_failed(backend: str, exc: Exception) -> ApplicationError:
    url = tsa_url()
    if url and "http" in str(exc):
        return ApplicationError(f"the time-stamp authority {url} did not answer: {exc}", code="tsa_unavailable", status=503)
    return not_configured(f"the {backend} signer made a signature its certificate does not verify (wrong key?): {exc}")


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
