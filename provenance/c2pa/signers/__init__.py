"""C2PA signer backends, one module each: `files` (files.py), `callback` (callback.py), or the
dotted path of a SignerBackend subclass (base.py), named by CLEANROOM_SIGNER['BACKEND']."""

from __future__ import annotations

from core.registry import BackendRegistry
from provenance.c2pa.signers.base import SignerBackend

SIGNERS: BackendRegistry[SignerBackend] = BackendRegistry(
    kind="signer",
    setting="CLEANROOM_SIGNER['BACKEND']",
    base=SignerBackend,
    builtins={
        "files": "provenance.c2pa.signers.files.FilesSigner",
        "callback": "provenance.c2pa.signers.callback.CallbackSigner",
    },
)
