"""The organisation's signing identity for a test: `pki init` in the test's own folder.

Used by the root conftest's `pki` fixture (and the generation conftest's, which names the
operator as the actor). The root conftest already points CLEANROOM_PKI_DIR and the signer's
files at `tmp_path / "pki"`; this also fixes the backend (files, no callback, no TSA) so that a
developer's environment cannot change what the tests sign with.
"""

from __future__ import annotations

from pathlib import Path


def pki_install(settings, directory: Path, *, actor=None) -> dict:
    """Point the settings at `directory`, create the identity there, return `pki_init`'s JSON."""
    from provenance.c2pa.pki import pki_init

    settings.CLEANROOM_PKI_DIR = directory
    settings.CLEANROOM_SIGNER = {
        **settings.CLEANROOM_SIGNER,
        "BACKEND": "files",
        "CERT_CHAIN": str(directory / "signer-chain.pem"),
        "KEY": str(directory / "signer-key.pem"),
        "CALLBACK": "",
        "TSA_URL": "",
        "TRUST_ANCHORS": str(directory / "anchors.pem"),
    }
    return pki_init(actor=actor)
