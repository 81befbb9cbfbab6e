"""Signing identities for tests, in one place.

- `pki_install`: the organisation's identity made the production way, by `pki init` (the
  root conftest's `pki` fixture, and generation's, which names the operator as the actor).
- `write_identity` / `use_identity`: an identity issued directly in a folder, for the C2PA
  tests that need a foreign root, a short-lived signer or a TSA root among the anchors (the
  c2pa conftest's `identity` fixture).
Both fix the signer's backend (files, no callback, no TSA unless asked), so that a developer's
environment cannot change what the tests sign with.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from provenance.services.pki import (
    SIGNER_LIFETIME,
    Credentials,
    certificate_pem,
    chain_pem,
    issue_root,
    issue_signer,
    private_key_pem,
)


@dataclass(frozen=True)
class Identity:
    root: Credentials
    signer: Credentials
    directory: Path

    @property
    def root_pem(self) -> str:
        return certificate_pem(self.root.certificate)

    @property
    def chain_path(self) -> Path:
        return self.directory / "signer-chain.pem"

    @property
    def key_path(self) -> Path:
        return self.directory / "signer-key.pem"

    @property
    def anchors_path(self) -> Path:
        return self.directory / "anchors.pem"


def write_identity(
    directory: Path,
    *,
    root: Credentials | None = None,
    lifetime: datetime.timedelta = SIGNER_LIFETIME,
    extra_anchors: tuple[str, ...] = (),
    name: str = "Cleanroom test",
) -> Identity:
    directory.mkdir(parents=True, exist_ok=True)
    root = root or issue_root(f"{name} root")
    identity = Identity(root, issue_signer(root, f"{name} signer", lifetime=lifetime), directory)
    identity.chain_path.write_text(chain_pem(identity.signer, root))
    identity.key_path.write_text(private_key_pem(identity.signer.key))
    identity.anchors_path.write_text(identity.root_pem + "".join(extra_anchors))
    return identity


def signer_settings(identity: Identity, *, tsa_url: str = "", backend: str = "files", callback: str = "") -> dict:
    """CLEANROOM_SIGNER for `identity`'s files."""
    return {
        "BACKEND": backend,
        "CERT_CHAIN": str(identity.chain_path),
        "KEY": str(identity.key_path),
        "CALLBACK": callback,
        "TSA_URL": tsa_url,
        "TRUST_ANCHORS": str(identity.anchors_path),
    }


def use_identity(settings, identity: Identity, **signer: str) -> None:
    """Point the settings (pytest-django's `settings` fixture) at `identity`'s files."""
    settings.CLEANROOM_PKI_DIR = identity.directory
    settings.CLEANROOM_SIGNER = signer_settings(identity, **signer)


def pki_install(settings, directory: Path, *, actor=None) -> dict:
    """Point the settings at `directory`, run `pki init` there, return its JSON."""
    from provenance.api.serializers import SigningIdentitySerializer
    from provenance.services.pki import pki_init

    use_pki_directory(settings, directory)
    return SigningIdentitySerializer(pki_init(actor=actor)).data


def use_pki_directory(settings, directory: Path) -> None:
    """Point the settings at the files `pki init` writes in `directory` (made or not yet)."""
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
