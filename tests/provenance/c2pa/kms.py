"""A stand-in for an HSM or KMS behind the `callback` signer backend: signs with a key it keeps.

c2pa hands the callback the bytes to sign and wants the raw ES256 signature r||s (64 bytes);
`cryptography` (like most HSM and KMS APIs) returns DER, so it is converted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

KEY_FILE: Path | None = None  # the key it holds, set with `holding`
calls: list[int] = []


@contextmanager
def holding(key_file: Path) -> Iterator[list[int]]:
    """The KMS holds `key_file` for the block (as an operator provisions one); yields the list
    of signature lengths it returns, one per call."""
    global KEY_FILE, calls
    previous, KEY_FILE, calls = KEY_FILE, key_file, []
    try:
        yield calls
    finally:
        KEY_FILE = previous


def der_to_raw(signature: bytes, size: int = 32) -> bytes:
    r, s = decode_dss_signature(signature)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def sign(data: bytes) -> bytes:
    assert KEY_FILE is not None, "tests.provenance.c2pa.kms.KEY_FILE is not set"
    key = serialization.load_pem_private_key(KEY_FILE.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = der_to_raw(key.sign(data, ec.ECDSA(hashes.SHA256())))
    calls.append(len(signature))
    return signature
