from __future__ import annotations

import c2pa
import pytest

from core.exceptions import ApplicationError
from provenance.c2pa.manifests import read_manifest, sign_image
from provenance.c2pa.signer import open_signer, trust_anchors_pem
from provenance.c2pa.signers.files import FilesSigner
from tests.provenance.c2pa import kms
from tests.provenance.ingest import images
from tests.support.pki import use_identity, write_identity


def sign_png() -> bytes:
    return sign_image(image=images.png_bytes(), mime_type="image/png", title="output.png", assertions=[], ingredients=[])


def test_the_files_backend_signs_with_the_configured_chain_and_key(identity):
    reading = read_manifest(sign_png(), "image/png")

    assert reading.state == "Trusted"
    assert reading.active_manifest["signature_info"]["common_name"] == "Cleanroom test signer"


def test_the_callback_backend_signs_through_a_function_that_returns_raw_r_and_s(identity, settings):
    use_identity(settings, identity, backend="callback", callback="tests.provenance.c2pa.kms.sign")
    settings.CLEANROOM_SIGNER["KEY"] = ""  # the platform itself never sees the key

    with kms.holding(identity.key_path) as calls:
        reading = read_manifest(sign_png(), "image/png")

    assert calls == [64]
    assert reading.state == "Trusted" and reading.errors == []


def test_a_key_that_does_not_match_the_certificate_is_refused_when_signing(identity, settings, tmp_path):
    other = write_identity(tmp_path / "other")
    use_identity(settings, identity, backend="callback", callback="tests.provenance.c2pa.kms.sign")

    with kms.holding(other.key_path), pytest.raises(ApplicationError) as refused:
        sign_png()

    assert refused.value.code == "signer_not_configured" and "does not verify" in refused.value.message


def test_an_unreachable_time_stamp_authority_is_reported_as_such(identity, settings):
    use_identity(settings, identity, tsa_url="http://127.0.0.1:9/")

    with pytest.raises(ApplicationError) as refused:
        sign_png()

    assert refused.value.code == "tsa_unavailable" and "127.0.0.1:9" in refused.value.message


def test_missing_signer_files_say_to_run_pki_init(settings, tmp_path):
    settings.CLEANROOM_SIGNER = {**settings.CLEANROOM_SIGNER, "BACKEND": "files", "CERT_CHAIN": str(tmp_path / "none.pem")}

    with pytest.raises(ApplicationError) as refused, open_signer():
        pass

    assert refused.value.code == "signer_not_configured" and "pki init" in refused.value.message


def test_an_unknown_backend_or_callback_is_refused_clearly(identity, settings):
    settings.CLEANROOM_SIGNER["BACKEND"] = "vault"
    with pytest.raises(ApplicationError) as unknown, open_signer():
        pass
    assert unknown.value.code == "signer_not_configured" and "vault" in unknown.value.message

    use_identity(settings, identity, backend="callback", callback="tests.provenance.c2pa.kms.no_such_function")
    with pytest.raises(ApplicationError) as missing, open_signer():
        pass
    assert missing.value.code == "signer_not_configured" and "no_such_function" in missing.value.message


def test_reading_without_trust_anchors_is_refused_not_reported_untrusted(identity, settings, tmp_path):
    signed = sign_png()
    settings.CLEANROOM_SIGNER["TRUST_ANCHORS"] = str(tmp_path / "missing.pem")

    with pytest.raises(ApplicationError) as refused:
        read_manifest(signed, "image/png")

    assert refused.value.code == "trust_anchors_missing"
    with pytest.raises(ApplicationError):
        trust_anchors_pem()


class CountingFilesSigner(FilesSigner):
    """An operator's own backend, named by its dotted path: the files backend, counting what it makes."""

    made = 0

    def create(self) -> c2pa.Signer:
        type(self).made += 1
        return super().create()


def test_a_dotted_path_names_the_backend_that_signs(identity, settings):
    settings.CLEANROOM_SIGNER["BACKEND"] = "tests.provenance.c2pa.test_signer.CountingFilesSigner"
    made_before = CountingFilesSigner.made

    first, second = read_manifest(sign_png(), "image/png"), read_manifest(sign_png(), "image/png")

    assert first.state == second.state == "Trusted"
    assert CountingFilesSigner.made == made_before + 1  # made once, then reused for the same configuration


def test_an_unknown_backend_names_the_setting_and_the_known_backends(identity, settings):
    settings.CLEANROOM_SIGNER["BACKEND"] = "vault"
    with pytest.raises(ApplicationError) as unknown, open_signer():
        pass
    assert unknown.value.status == 503
    assert unknown.value.message.startswith("CLEANROOM_SIGNER['BACKEND']: unknown signer backend 'vault'")
    assert "known: callback, files" in unknown.value.message


def test_a_class_that_is_not_a_signer_backend_is_refused(identity, settings):
    settings.CLEANROOM_SIGNER["BACKEND"] = "core.registry.BackendRegistry"
    with pytest.raises(ApplicationError) as refused, open_signer():
        pass
    assert (
        refused.value.code == "signer_not_configured"
        and "is not a provenance.c2pa.signers.base.SignerBackend" in refused.value.message
    )
