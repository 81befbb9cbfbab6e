"""RFC 3161 time-stamps keep a signature Trusted after its certificate expires (FACTS.md).

One signing certificate that lives 3 seconds signs three images (time-stamped by the local TSA,
not time-stamped, and time-stamped by a TSA whose root is not an anchor); all read Trusted at
once, then the module waits for the certificate to expire, once, and each test reads one again.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import override_settings

from provenance.c2pa.manifests import read_manifest, sign_image
from tests.provenance.ingest import images
from tests.support.pki import signer_settings, write_identity

LEAF_LIFETIME = datetime.timedelta(seconds=3)


@dataclass(frozen=True)
class Signed:
    data: bytes
    anchors: Path
    state_before_expiry: str | None


def sign_png() -> bytes:
    return sign_image(image=images.png_bytes(), mime_type="image/png", title="output.png", assertions=[], ingredients=[])


@pytest.fixture(scope="module")
def expired(tmp_path_factory, tsa) -> dict[str, Signed]:
    directory = tmp_path_factory.mktemp("short-lived")
    identity = write_identity(directory, lifetime=LEAF_LIFETIME, extra_anchors=(tsa.root_pem,))
    without_tsa_root = directory / "anchors-without-tsa.pem"
    without_tsa_root.write_text(identity.root_pem)
    variants = {
        "stamped": (tsa.url, identity.anchors_path),
        "unstamped": ("", identity.anchors_path),
        "stamped_by_an_unknown_tsa": (tsa.url, without_tsa_root),
    }
    signed: dict[str, Signed] = {}
    for name, (tsa_url, anchors) in variants.items():
        signer = {**signer_settings(identity, tsa_url=tsa_url), "TRUST_ANCHORS": str(anchors)}
        with override_settings(CLEANROOM_SIGNER=signer):
            requests = tsa.requests
            data = sign_png()
            assert tsa.requests == requests + (1 if tsa_url else 0)
            signed[name] = Signed(data, anchors, read_manifest(data, "image/png").state)
    expiry = identity.signer.certificate.not_valid_after_utc + datetime.timedelta(seconds=1)
    time.sleep(max(0.0, (expiry - datetime.datetime.now(datetime.UTC)).total_seconds()))
    return signed


def read_after_expiry(settings, signed: Signed):
    settings.CLEANROOM_SIGNER = {**settings.CLEANROOM_SIGNER, "TRUST_ANCHORS": str(signed.anchors)}
    return read_manifest(signed.data, "image/png")


def test_a_time_stamped_manifest_stays_trusted_after_its_certificate_expires(expired, settings):
    assert expired["stamped"].state_before_expiry == "Trusted"

    reading = read_after_expiry(settings, expired["stamped"])

    assert reading.state == "Trusted" and reading.errors == []


def test_a_manifest_without_a_time_stamp_turns_invalid_when_its_certificate_expires(expired, settings):
    assert expired["unstamped"].state_before_expiry == "Trusted"

    reading = read_after_expiry(settings, expired["unstamped"])

    assert reading.state == "Invalid" and "signingCredential.expired" in reading.errors


def test_a_time_stamp_counts_only_when_the_tsa_root_is_a_trust_anchor(expired, settings):
    assert expired["stamped_by_an_unknown_tsa"].state_before_expiry == "Trusted"

    reading = read_after_expiry(settings, expired["stamped_by_an_unknown_tsa"])

    assert reading.state == "Invalid" and "signingCredential.expired" in reading.errors
