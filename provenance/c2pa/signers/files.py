"""The `files` signer backend: the certificate chain (PEM, leaf first) and private key from
CLEANROOM_SIGNER's CERT_CHAIN and KEY (what `pki init` writes)."""

from __future__ import annotations

from collections.abc import Hashable

import c2pa

from provenance.c2pa.signers.base import (
    SIGNING_ALGORITHM,
    SignerBackend,
    file_identity,
    read_configured_file,
    tsa_url,
)


class FilesSigner(SignerBackend):
    name = "files"

    def create(self) -> c2pa.Signer:
        chain, key = read_configured_file("CERT_CHAIN"), read_configured_file("KEY")
        return c2pa.Signer.from_info(c2pa.C2paSignerInfo(SIGNING_ALGORITHM, chain, key, tsa_url()))

    def identity(self) -> tuple[Hashable, ...]:
        # A rotated key file is picked up at once.
        return (*super().identity(), file_identity("KEY"))
