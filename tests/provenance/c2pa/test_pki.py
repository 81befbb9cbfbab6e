from __future__ import annotations

import hashlib
import io
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.core.management import call_command
from django.core.management.base import CommandError

from core.models import AuditEvent, EventType
from provenance.c2pa.manifests import read_manifest, sign_image
from provenance.services.pki import certificate_pem, issue_root, issue_signer
from tests.provenance.ingest import images
from tests.support.pki import use_pki_directory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pki_dir(settings, tmp_path) -> Path:
    directory = tmp_path / "data" / "pki"
    use_pki_directory(settings, directory)
    return directory


def pki(*args: str) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("pki", *args, "--json", stdout=out)
    except CommandError as exc:
        return exc.returncode, json.loads(out.getvalue())
    return 0, json.loads(out.getvalue())


def extension(certificate: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension:
    return certificate.extensions.get_extension_for_class(kind)


def test_pki_init_creates_a_root_and_a_leaf_first_chain_with_the_extensions_c2pa_needs(pki_dir):
    code, result = pki("init")

    assert code == 0
    assert result["certificate_path"] == str(pki_dir / "signer-chain.pem")
    leaf, root = x509.load_pem_x509_certificates(Path(result["certificate_path"]).read_bytes())
    assert result["anchor_fingerprint"] == hashlib.sha256(root.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert leaf.issuer == root.subject and root.issuer == root.subject

    assert extension(root, x509.BasicConstraints).critical and extension(root, x509.BasicConstraints).value.ca
    assert extension(root, x509.KeyUsage).value.key_cert_sign and extension(root, x509.KeyUsage).value.crl_sign
    assert extension(root, x509.SubjectKeyIdentifier)

    assert not extension(leaf, x509.BasicConstraints).value.ca
    assert extension(leaf, x509.KeyUsage).critical and extension(leaf, x509.KeyUsage).value.digital_signature
    assert list(extension(leaf, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert extension(leaf, x509.SubjectKeyIdentifier)
    aki = extension(leaf, x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == extension(root, x509.SubjectKeyIdentifier).value.digest
    assert leaf.public_key().curve.name == root.public_key().curve.name == "secp256r1"

    anchors = x509.load_pem_x509_certificates((pki_dir / "anchors.pem").read_bytes())
    assert anchors == [root]


def test_pki_init_keeps_keys_private_and_logs_only_the_fingerprint(pki_dir):
    _, result = pki("init")

    assert stat.S_IMODE(pki_dir.stat().st_mode) == 0o700
    for key in ("signer-key.pem", "root-key.pem"):
        assert stat.S_IMODE((pki_dir / key).stat().st_mode) == 0o600
        assert b"PRIVATE KEY" in (pki_dir / key).read_bytes()
    event = AuditEvent.objects.get(event_type=EventType.PKI_INITIALISED)
    assert (event.subject_type, event.subject_id) == ("pki", result["anchor_fingerprint"])
    assert event.details["anchor_fingerprint"] == result["anchor_fingerprint"]
    assert "PRIVATE" not in json.dumps(event.details) and "BEGIN" not in json.dumps(event.details)


def test_an_image_signed_with_the_new_identity_reads_trusted(pki_dir):
    pki("init")

    reading = read_manifest(
        sign_image(image=images.png_bytes(), mime_type="image/png", title="t", assertions=[], ingredients=[]), "image/png"
    )

    assert reading.state == "Trusted" and reading.trusted and reading.errors == []


def test_pki_init_refuses_to_replace_an_identity_unless_forced(pki_dir):
    _, first = pki("init")
    key_before = (pki_dir / "signer-key.pem").read_bytes()

    code, refused = pki("init")

    assert code == 1 and refused["code"] == "pki_exists"
    assert (pki_dir / "signer-key.pem").read_bytes() == key_before

    code, forced = pki("init", "--force")

    assert code == 0 and forced["anchor_fingerprint"] != first["anchor_fingerprint"]
    assert forced["replaced"] == first["anchor_fingerprint"]
    assert (pki_dir / "signer-key.pem").read_bytes() != key_before
    assert AuditEvent.objects.filter(event_type=EventType.PKI_INITIALISED).count() == 2


def test_pki_init_adds_further_anchors_such_as_a_tsa_root(pki_dir, tmp_path):
    tsa_root = issue_root("Some TSA root")
    (tmp_path / "tsa-root.pem").write_text(certificate_pem(tsa_root.certificate))

    code, result = pki("init", "--also-trust", str(tmp_path / "tsa-root.pem"))

    assert code == 0
    anchors = x509.load_pem_x509_certificates((pki_dir / "anchors.pem").read_bytes())
    assert anchors[1] == tsa_root.certificate and len(result["also_trusted"]) == 1


def test_pki_init_refuses_an_anchor_that_is_not_a_certificate_authority(pki_dir, tmp_path):
    leaf = issue_signer(issue_root("Some root"), "Not an authority")
    (tmp_path / "leaf.pem").write_text(certificate_pem(leaf.certificate))

    code, result = pki("init", "--also-trust", str(tmp_path / "leaf.pem"))

    assert code == 1 and result["code"] == "invalid_anchor"
    assert not pki_dir.exists()


def test_pki_init_refuses_a_directory_the_platform_serves(pki_dir, settings):
    settings.CLEANROOM_PKI_DIR = Path(settings.STORAGES["default"]["OPTIONS"]["location"]) / "pki"
    settings.CLEANROOM_SIGNER = {
        **settings.CLEANROOM_SIGNER,
        "CERT_CHAIN": str(settings.CLEANROOM_PKI_DIR / "signer-chain.pem"),
        "KEY": str(settings.CLEANROOM_PKI_DIR / "signer-key.pem"),
    }

    code, result = pki("init")

    assert code == 1 and result["code"] == "pki_dir_unsafe"
    assert not settings.CLEANROOM_PKI_DIR.exists()


def test_pki_init_refuses_when_the_signer_is_configured_elsewhere(pki_dir, settings, tmp_path):
    settings.CLEANROOM_SIGNER = {**settings.CLEANROOM_SIGNER, "KEY": str(tmp_path / "hsm-managed.pem")}

    code, result = pki("init")

    assert code == 1 and result["code"] == "signer_not_managed"
    assert not AuditEvent.objects.filter(event_type=EventType.PKI_INITIALISED).exists()


def test_pki_show_reports_the_installed_identity_or_says_to_run_init(pki_dir):
    code, missing = pki("show")
    assert code == 1 and missing["code"] == "pki_missing"

    _, created = pki("init")
    code, shown = pki("show")

    assert code == 0 and shown["anchor_fingerprint"] == created["anchor_fingerprint"]
    assert shown["anchors"] == [created["anchor_fingerprint"]]
