"""The `callback` signer backend: CLEANROOM_SIGNER['CALLBACK'] names a function
`sign(data: bytes) -> bytes` returning the raw ES256 signature r||s (64 bytes, not DER), so the
key can stay in an HSM or a KMS; the chain still comes from CERT_CHAIN."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import c2pa
from django.conf import settings
from django.utils.module_loading import import_string

from provenance.c2pa.signers.base import SIGNING_ALGORITHM, SignerBackend, not_configured, read_configured_file, tsa_url


class CallbackSigner(SignerBackend):
    name = "callback"

    def create(self) -> c2pa.Signer:
        dotted_path = settings.CLEANROOM_SIGNER.get("CALLBACK") or ""
        try:
            sign: Callable[[bytes], bytes] = import_string(dotted_path)
        except ImportError as exc:
            raise not_configured(f"the signing callback {dotted_path!r} cannot be imported: {exc}") from None
        chain = read_configured_file("CERT_CHAIN").decode("ascii")
        return c2pa.Signer.from_callback(sign, SIGNING_ALGORITHM, chain, tsa_url())

    def identity(self) -> tuple[Hashable, ...]:
        return (*super().identity(), settings.CLEANROOM_SIGNER.get("CALLBACK") or "")
