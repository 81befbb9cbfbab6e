"""An output validates outside c2pa-rs: @trustnxt/c2pa-ts (pure TypeScript) checks its hashes and
signatures. It checks no chain of trust (any certificate passes); trust is read_manifest's job."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from provenance.c2pa.manifests import sign_image
from tests.provenance.c2pa.chains import build_chain, sign_output
from tests.provenance.ingest import images

ROOT = Path(__file__).resolve().parents[3]
VERIFIER = ROOT / "tests" / "js" / "verify.mjs"


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.fail("the independent C2PA verifier needs Node.js >= 18 and npm on PATH (apt-get install nodejs npm)")
    done = subprocess.run([str(ROOT / "scripts" / "js-setup.sh")], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"scripts/js-setup.sh could not install tests/js (npm ci):\n{done.stderr[-3000:]}")
    return node


def verify(node: str, path: Path) -> dict:
    done = subprocess.run([node, str(VERIFIER), str(path)], capture_output=True, text=True, timeout=60, cwd=VERIFIER.parent)
    assert done.stdout, done.stderr
    return json.loads(done.stdout)


def test_a_signed_output_with_its_chain_validates_in_an_independent_implementation(identity, node, tmp_path):
    output = tmp_path / "output.png"
    output.write_bytes(sign_output(build_chain().archive))

    result = verify(node, output)

    assert result["valid"] is True and result["failures"] == []
    assert result["manifests"] == 3  # output, model, snapshot
    assert {"claimSignature.validated", "assertion.dataHash.match"} <= set(result["codes"])


def test_the_independent_verifier_rejects_changed_pixels(identity, node, tmp_path):
    tampered = tmp_path / "tampered.jpg"
    signed = sign_image(image=images.jpeg_bytes(), mime_type="image/jpeg", title="output.jpg", assertions=[], ingredients=[])
    tampered.write_bytes(images.flip_byte_in_scan_data(signed))

    result = verify(node, tampered)

    assert result["valid"] is False
    assert [failure["code"] for failure in result["failures"]] == ["assertion.dataHash.mismatch"]
