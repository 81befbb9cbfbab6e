"""The organisation's signing identity: a root CA and the ES256 certificate that signs manifests.

The certificates carry exactly what C2PA validators accept (see FACTS.md): a P-256 root with
BasicConstraints CA:TRUE and keyCertSign, and a P-256 leaf with KeyUsage digitalSignature, EKU
emailProtection, SKI and AKI, BasicConstraints CA:FALSE; the chain file is PEM, leaf first.
Everything lives in CLEANROOM_PKI_DIR (0700, keys 0600), never in the repository or under a
folder the web process serves. The root's SHA-256 fingerprint is what a verifier pins.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.db import transaction

from core.audit import audit_append
from core.exceptions import ApplicationError
from core.models import EventType
from core.roles import Actor, Role, require_role

ROOT_LIFETIME = datetime.timedelta(days=20 * 365)
# Without a time-stamp authority a manifest reads Invalid once this certificate expires, so it
# lives long; a TSA (CLEANROOM_SIGNER["TSA_URL"]) makes signatures outlive it.
SIGNER_LIFETIME = datetime.timedelta(days=5 * 365)
CLOCK_SKEW = datetime.timedelta(minutes=5)
ORGANISATION = "Cleanroom"


@dataclass(frozen=True)
class Credentials:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@dataclass(frozen=True)
class PkiPaths:
    directory: Path
    root_key: Path
    root_certificate: Path
    signer_key: Path
    signer_chain: Path
    anchors: Path


def pki_paths() -> PkiPaths:
    directory = Path(settings.CLEANROOM_PKI_DIR)
    return PkiPaths(
        directory=directory,
        root_key=directory / "root-key.pem",
        root_certificate=directory / "root.pem",
        signer_key=directory / "signer-key.pem",
        signer_chain=directory / "signer-chain.pem",
        anchors=Path(settings.CLEANROOM_SIGNER["TRUST_ANCHORS"]),
    )


# --- Certificates -------------------------------------------------------------------------------


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)]
    )


def _key_usage(*, certificate_authority: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not certificate_authority,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certificate_authority,
        crl_sign=certificate_authority,
        encipher_only=False,
        decipher_only=False,
    )


def issue_root(
    common_name: str, *, organisation: str = ORGANISATION, lifetime: datetime.timedelta = ROOT_LIFETIME
) -> Credentials:
    """A self-signed P-256 certificate authority."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name, organisation)
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(certificate_authority=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Credentials(key, certificate)


def issue_signer(
    issuer: Credentials,
    common_name: str,
    *,
    organisation: str = ORGANISATION,
    lifetime: datetime.timedelta = SIGNER_LIFETIME,
) -> Credentials:
    """An ES256 C2PA signing certificate issued by `issuer`, valid from now for `lifetime`."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organisation))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(certificate_authority=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
    return Credentials(key, certificate)


def certificate_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(
        "ascii"
    )


def chain_pem(signer: Credentials, issuer: Credentials) -> str:
    """The chain as C2PA wants it: the signing certificate first, then its issuer."""
    return certificate_pem(signer.certificate) + certificate_pem(issuer.certificate)


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 over the DER certificate, lower-case hex (what `openssl x509 -fingerprint -sha256` shows)."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


# --- The installed identity -----------------------------------------------------------------------


@dataclass(frozen=True)
class SigningIdentity:
    """The organisation's installed signing identity: where its files are and what they hold
    (never the keys). `replaced` and `also_trusted` are what `pki init` did, when it did."""

    paths: PkiPaths
    chain: list[x509.Certificate]  # the signing certificate first, then its issuer
    anchors: list[x509.Certificate]
    root_fingerprint: str | None
    replaced: str | None = None
    also_trusted: list[x509.Certificate] = field(default_factory=list)

    @property
    def signer(self) -> x509.Certificate:
        return self.chain[0]


def pki_init(*, force: bool = False, also_trust: list[str] | tuple[str, ...] = (), actor: Actor = None) -> SigningIdentity:
    """Create the root CA and signing certificate in CLEANROOM_PKI_DIR and write the anchors bundle.

    Refuses (`pki_exists`) to replace an existing identity unless `force`: outputs signed by the
    old one stop reading Trusted once its root leaves the anchors. `also_trust` names PEM files
    of further anchors (a time-stamp authority's root) to add to the bundle.
    """
    require_role(actor, Role.OPERATOR, action="initialise the signing identity")
    paths = pki_paths()
    _refuse_unmanaged_signer(paths)
    _refuse_unsafe_directory(paths.directory)
    existing = [path for path in (paths.root_key, paths.signer_key, paths.signer_chain) if path.exists()]
    if existing and not force:
        raise ApplicationError(
            f"a signing identity already exists in {paths.directory}; pass --force to replace it "
            "(outputs signed by the old identity then no longer verify as Trusted)",
            code="pki_exists",
            status=409,
        )
    extra_anchors = [_read_anchor(Path(path)) for path in also_trust]
    root = issue_root(f"{ORGANISATION} Root CA")
    signer = issue_signer(root, f"{ORGANISATION} Content Credentials")
    identity = SigningIdentity(
        paths=paths,
        chain=[signer.certificate, root.certificate],
        anchors=[root.certificate, *extra_anchors],
        root_fingerprint=fingerprint(root.certificate),
        replaced=_installed_root_fingerprint(paths),
        also_trusted=extra_anchors,
    )
    with transaction.atomic():
        _make_private_directory(paths.directory)
        _write_file(paths.root_key, private_key_pem(root.key), mode=0o600)
        _write_file(paths.signer_key, private_key_pem(signer.key), mode=0o600)
        _write_file(paths.root_certificate, certificate_pem(root.certificate), mode=0o644)
        _write_file(paths.signer_chain, chain_pem(signer, root), mode=0o644)
        paths.anchors.parent.mkdir(parents=True, exist_ok=True)
        _write_file(paths.anchors, "".join(certificate_pem(anchor) for anchor in identity.anchors), mode=0o644)
        audit_append(
            actor=actor,
            event_type=EventType.PKI_INITIALISED,
            subject=("pki", str(identity.root_fingerprint)),
            details={
                "anchor_fingerprint": identity.root_fingerprint,
                "signer_fingerprint": fingerprint(signer.certificate),
                "not_valid_after": signer.certificate.not_valid_after_utc.isoformat(),
                "also_trusted": [fingerprint(anchor) for anchor in extra_anchors],
                "replaced": identity.replaced,
            },
        )
    return identity


def pki_show() -> SigningIdentity:
    """The installed identity (fingerprints and validity are read from it; no key material)."""
    paths = pki_paths()
    if not paths.signer_chain.exists():
        raise ApplicationError(f"no signing identity in {paths.directory}; run `pki init`", code="pki_missing", status=404)
    return SigningIdentity(
        paths=paths,
        chain=x509.load_pem_x509_certificates(paths.signer_chain.read_bytes()),
        anchors=x509.load_pem_x509_certificates(paths.anchors.read_bytes()) if paths.anchors.exists() else [],
        root_fingerprint=_installed_root_fingerprint(paths),
    )


def _installed_root_fingerprint(paths: PkiPaths) -> str | None:
    if not paths.root_certificate.exists():
        return None
    return fingerprint(x509.load_pem_x509_certificate(paths.root_certificate.read_bytes()))


def _read_anchor(path: Path) -> x509.Certificate:
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ApplicationError(f"{path} is not a readable PEM certificate ({exc})", code="invalid_anchor") from None
    try:
        is_authority = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_authority = False
    if not is_authority:
        raise ApplicationError(f"{path} is not a certificate authority (BasicConstraints CA:TRUE)", code="invalid_anchor")
    return certificate


def _refuse_unmanaged_signer(paths: PkiPaths) -> None:
    """An identity nobody signs with is worse than none: refuse when the settings point elsewhere."""
    signer = settings.CLEANROOM_SIGNER
    configured = {"CERT_CHAIN": paths.signer_chain}
    if signer["BACKEND"] == "files":
        configured["KEY"] = paths.signer_key
    elsewhere = [name for name, path in configured.items() if Path(signer[name]).resolve() != path.resolve()]
    if signer["BACKEND"] != "files" or elsewhere:
        raise ApplicationError(
            f"the signer is configured elsewhere (backend {signer['BACKEND']}, {', '.join(elsewhere) or 'CALLBACK'}); "
            f"`pki init` only manages {paths.directory}: unset CLEANROOM_SIGNER_* to use it",
            code="signer_not_managed",
        )


def _served_or_tracked_roots() -> list[Path]:
    roots = [Path(settings.STATIC_ROOT)] if getattr(settings, "STATIC_ROOT", None) else []
    if getattr(settings, "MEDIA_ROOT", None):
        roots.append(Path(settings.MEDIA_ROOT))
    roots += [Path(str(folder)) for folder in getattr(settings, "STATICFILES_DIRS", [])]
    for storage in settings.STORAGES.values():
        if not isinstance(storage, dict):
            continue
        location = (storage.get("OPTIONS") or {}).get("location")
        if location:
            roots.append(Path(location))
    return [root.resolve() for root in roots]


def _refuse_unsafe_directory(directory: Path) -> None:
    directory = directory.resolve()
    for root in _served_or_tracked_roots():
        if directory == root or directory.is_relative_to(root) or root.is_relative_to(directory):
            raise ApplicationError(
                f"CLEANROOM_PKI_DIR {directory} overlaps {root}, which the platform serves or stores blobs in",
                code="pki_dir_unsafe",
            )
    base, data = Path(settings.BASE_DIR).resolve(), Path(settings.DATA_DIR).resolve()
    if directory.is_relative_to(base) and not directory.is_relative_to(data):
        raise ApplicationError(
            f"CLEANROOM_PKI_DIR {directory} is inside the source tree; keys never go there", code="pki_dir_unsafe"
        )


def _make_private_directory(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask and ignored when it exists


def _write_file(path: Path, text: str, *, mode: int) -> None:
    """Atomic write: the key is never readable by others, not even between create and chmod."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
