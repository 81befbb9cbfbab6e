"""A throw-away test CA and ES256 signer, and real C2PA signing with arbitrary assertions.

The certificates have exactly what C2PA validators accept (see FACTS.md): a CA with
BasicConstraints CA:TRUE and keyCertSign, and a P-256 leaf with digitalSignature, EKU
emailProtection, SKI and AKI, BasicConstraints CA:FALSE; the chain is PEM, leaf first.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=30)
NO_THUMBNAIL = {"builder": {"thumbnail": {"enabled": False}}}


@dataclass(frozen=True)
class SigningCredentials:
    root_pem: str
    chain_pem: str
    private_key_pem: str


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cleanroom tests"),
        ]
    )


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _certificate_builder(subject: str, issuer: str, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def make_credentials(ca_name: str = "Cleanroom Test CA") -> SigningCredentials:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_certificate = (
        _certificate_builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_certificate = (
        _certificate_builder("Cleanroom test signer", ca_name, leaf_key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    private_key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return SigningCredentials(
        root_pem=_pem(ca_certificate),
        chain_pem=_pem(leaf_certificate) + _pem(ca_certificate),
        private_key_pem=private_key_pem,
    )


@cache
def shared_credentials() -> SigningCredentials:
    return make_credentials()


def training_mining_assertion(entries: dict[str, str], *, label: str = "cawg.training-mining") -> dict:
    """`entries` maps e.g. "cawg.ai_training" to "notAllowed" / "allowed" / "constrained"."""
    return {"label": label, "data": {"entries": {name: {"use": use} for name, use in entries.items()}}}


def sign_image(
    data: bytes,
    mime_type: str,
    *,
    assertions: Sequence[dict] = (),
    credentials: SigningCredentials | None = None,
    parent: bytes | None = None,
    digital_source_type: c2pa.C2paDigitalSourceType = c2pa.C2paDigitalSourceType.DIGITAL_CAPTURE,
    remote_url: str | None = None,
) -> bytes:
    """Signs `data` with a real C2PA manifest; `parent` (same format) becomes its parentOf ingredient."""
    credentials = credentials or shared_credentials()
    context = c2pa.Context.from_dict(NO_THUMBNAIL)
    manifest = {"claim_generator_info": [{"name": "cleanroom-tests", "version": "1"}], "assertions": list(assertions)}
    with c2pa.Builder(manifest, context=context) as builder:
        if parent is not None:
            builder.add_ingredient({"title": "parent", "relationship": "parentOf"}, mime_type, io.BytesIO(parent))
            builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
        else:
            builder.set_intent(c2pa.C2paBuilderIntent.CREATE, digital_source_type)
        if remote_url is not None:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        signer_info = c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ES256, credentials.chain_pem.encode(), credentials.private_key_pem.encode(), None
        )
        signed = io.BytesIO()
        with c2pa.Signer.from_info(signer_info) as signer:
            builder.sign(signer, mime_type, io.BytesIO(data), signed)
    return signed.getvalue()
