"""`export SNAPSHOT_ID --format pack`: the compliance pack, and `verify_pack.py` run from it in a
fresh virtualenv that has only c2pa-python (no Django, no Cleanroom)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.storage import blob_exists, blob_open
from provenance.exports import formats
from provenance.exports.formats import SNAPSHOT, ExportFormat, register_export_format
from provenance.exports.service import export_write
from provenance.merkle import fold_proof, leaf_hash, snapshot_leaf
from provenance.services.consent import consent_revoke

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]
VERIFIER = ROOT / "provenance" / "exports" / "pack" / "verify_pack.py"


def pack_of(snapshot, output: Path, *, force: bool = False) -> Path:
    export_write(subject=SNAPSHOT, subject_id=str(snapshot.pk), format_name="pack", output=output, force=force)
    return output


def members(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rewritten(pack: Path, target: Path, name: str, change) -> Path:
    """The pack with member `name` replaced by change(bytes): a well-formed ZIP, changed bytes."""
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as out:
        for info in source.infolist():
            data = source.read(info)
            out.writestr(info, change(data) if info.filename == name else data)
    return target


@pytest.fixture(scope="session")
def clean_python(tmp_path_factory) -> Path:
    """A virtualenv with only c2pa-python, at the version pyproject pins."""
    pinned = re.search(r'"(c2pa-python==[^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    venv = tmp_path_factory.mktemp("clean-venv")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", pinned], check=True, timeout=300)
    return venv / "bin" / "python"


def verify(python: Path, pack: Path, folder: Path, *options: str) -> subprocess.CompletedProcess:
    """Unzip verify_pack.py from the pack, as VERIFY.md says, and run it in the clean virtualenv."""
    script = folder / "verify_pack.py"
    script.write_bytes(members(pack)["verify_pack.py"])
    return subprocess.run(
        [str(python), "-I", str(script), str(pack), *options], capture_output=True, text=True, timeout=120, cwd=folder, env={}
    )


def test_the_pack_holds_the_formats_the_containers_a_proof_per_member_and_the_anchor(approved, pki, settings, tmp_path):
    pack = pack_of(approved, tmp_path / "pack.zip")
    files = members(pack)
    assert {"croissant.jsonld", "records.csv", "proofs.jsonl", "snapshot/container.zip", "anchor/trust-anchors.pem"} <= set(files)
    assert {"VERIFY.md", "verify_pack.py", "pack.json", "META-INF/content_credential.c2pa"} <= set(files)
    assert files["verify_pack.py"] == VERIFIER.read_bytes()
    assert files["anchor/trust-anchors.pem"] == Path(settings.CLEANROOM_SIGNER["TRUST_ANCHORS"]).read_bytes()
    document = json.loads(files["pack.json"])
    approved.refresh_from_db()
    assert document["merkle_root"] == approved.merkle_root and document["member_count"] == approved.asset_count
    assert document["snapshot_container"]["sha256"] == approved.container_sha256 != ""
    proofs = [json.loads(line) for line in files["proofs.jsonl"].splitlines()]
    assert [proof["index"] for proof in proofs] == list(range(approved.asset_count))
    for proof in proofs:
        leaf = leaf_hash(
            snapshot_leaf(
                asset_sha256=proof["asset_sha256"], consent_id=proof["consent_id"], consent_digest=proof["consent_digest"]
            )
        )
        path = [(side, bytes.fromhex(sibling)) for side, sibling in proof["path"]]
        assert fold_proof(leaf, path).hex() == approved.merkle_root
    croissant = json.loads(files["croissant.jsonld"])
    file_hashes = [entry["sha256"] for entry in croissant["distribution"] if entry["@type"] == "cr:FileObject"]
    assert sorted(file_hashes) == sorted(proof["asset_sha256"] for proof in proofs)


def test_two_packs_of_a_snapshot_differ_only_in_the_signature(approved, pki, tmp_path):
    first = members(pack_of(approved, tmp_path / "one.zip"))
    second = members(pack_of(approved, tmp_path / "two.zip"))
    assert list(first) == list(second)
    signed = [name for name in first if name.startswith("META-INF/")]  # the C2PA manifest the SDK adds
    assert signed and {k: v for k, v in first.items() if k not in signed} == {k: v for k, v in second.items() if k not in signed}
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        names = [info.filename for info in archive.infolist() if info.filename not in signed]
        stamps = {info.date_time for info in archive.infolist() if info.filename not in signed}
    assert names == sorted(names)
    created = approved.created_at
    assert stamps == {
        (created.year, created.month, created.day, created.hour, created.minute, created.second - created.second % 2)
    }


def test_a_tainted_snapshots_pack_says_tainted_with_the_revocation(approved, pki, operator, tmp_path):
    pack_of(approved, tmp_path / "before.zip")  # its signed container is made while it may be used
    consent_id = str(approved.members.order_by("index").first().consent_id)
    consent_revoke(consent_id=consent_id, actor=operator, reason="the model withdrew")
    files = members(pack_of(approved, tmp_path / "pack.zip"))
    document = json.loads(files["pack.json"])
    assert document["status"] == "TAINTED"
    assert [(lapse["consent_id"], lapse["reason"]) for lapse in document["snapshot"]["lapses"]] == [
        (consent_id, "the model withdrew")
    ]
    steps = files["VERIFY.md"].decode()
    assert "**TAINTED.**" in steps and "the model withdrew" in steps
    assert "snapshot/container.zip" in files


def test_a_snapshot_in_review_gets_no_pack_and_the_command_says_why(in_review, pki, out):
    output = out / "pack.zip"
    with pytest.raises(CommandError) as refused:
        call_command("export", str(in_review.pk), "--format", "pack", "--output", str(output), stdout=io.StringIO())
    assert refused.value.returncode == 1 and "never approved" in str(refused.value)
    assert list(out.iterdir()) == []


def tiny_pdf(snapshot_id, handle, progress):
    handle.write(b"%PDF-1.4\n% a report of " + snapshot_id.encode() + b"\n%%EOF\n")
    return {}


def test_the_pdf_is_packed_once_its_format_is_registered_and_noted_while_it_is_not(approved, pki, registry, tmp_path):
    register_export_format(replace(formats._FORMATS[(SNAPSHOT, "pdf")], writer=""))  # as before the PDF is built
    without = members(pack_of(approved, tmp_path / "without.zip"))
    assert "report.pdf" not in without
    assert json.loads(without["pack.json"])["not_included"][0]["path"] == "report.pdf"
    assert "Not included: the pdf export" in without["VERIFY.md"].decode()
    register_export_format(
        ExportFormat("pdf", "PDF", SNAPSHOT, "application/pdf", "pdf", writer=f"{__name__}.tiny_pdf"),
    )
    with_pdf = members(pack_of(approved, tmp_path / "with.zip"))
    assert with_pdf["report.pdf"].startswith(b"%PDF") and json.loads(with_pdf["pack.json"])["not_included"] == []


def test_a_pack_is_refused_when_a_format_it_needs_is_not_available(approved, pki, registry, out):
    register_export_format(replace(formats._FORMATS[(SNAPSHOT, "croissant")], writer=""))
    output = out / "pack.zip"
    with pytest.raises(CommandError) as refused:
        call_command("export", str(approved.pk), "--format", "pack", "--output", str(output), stdout=io.StringIO())
    assert refused.value.returncode == 1 and "needs the croissant export" in str(refused.value)
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_verify_pack_says_ok_in_a_clean_virtualenv_and_names_each_tampering(approved, pki, clean_python, tmp_path):
    pack = pack_of(approved, tmp_path / "pack.zip")
    work = tmp_path / "elsewhere"
    work.mkdir()

    verdict = verify(clean_python, pack, work)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    assert "VERDICT: OK" in verdict.stdout and "signature of the pack: trusted" in verdict.stdout
    assert "Merkle inclusion proofs" in verdict.stdout and "signature of the snapshot container: trusted" in verdict.stdout

    # The images, where a rights holder has them: each must have the SHA-256 the Croissant names.
    images = tmp_path / "images"
    images.mkdir()
    stored = [m.asset_sha256 for m in approved.members.order_by("index") if blob_exists(m.asset_sha256)]
    with blob_open(stored[0]) as blob:
        (images / f"{stored[0]}.jpg").write_bytes(blob.read())
    verdict = verify(clean_python, pack, work, "--files", str(images))
    assert verdict.returncode == 0 and f"1 of {approved.asset_count} member files found" in verdict.stdout, verdict.stdout
    (images / f"{stored[0]}.jpg").write_bytes(b"not the photograph")
    verdict = verify(clean_python, pack, work, "--files", str(images))
    assert verdict.returncode == 1 and f"FAILED  files in {images} named after a Croissant hash: 1 of 1" in verdict.stdout

    def first_sha256(data: bytes) -> bytes:
        croissant = json.loads(data)
        entry = next(e for e in croissant["distribution"] if e["@type"] == "cr:FileObject")
        return data.replace(entry["sha256"].encode(), b"0" * 64)

    def second_proof(data: bytes) -> bytes:
        lines = data.splitlines(keepends=True)
        proof = json.loads(lines[1])
        proof["path"][0][1] = "ab" * 32
        lines[1] = json.dumps(proof).encode() + b"\n"
        return b"".join(lines)

    def signature_bytes(data: bytes) -> bytes:
        middle = len(data) - 200  # inside the COSE signature, at the end of the manifest store
        return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]

    tamperings = {
        "records.csv": (lambda data: data.replace(b"Acme Photo", b"Acme Fhoto", 1), "file records.csv: sha256"),
        "proofs.jsonl": (second_proof, "member 1"),
        "croissant.jsonld": (first_sha256, "Croissant file hashes found among the Merkle leaves: 1 of"),
        "META-INF/content_credential.c2pa": (signature_bytes, "signature of the pack:"),
    }
    for name, (change, said) in tamperings.items():
        tampered = rewritten(pack, tmp_path / f"tampered-{name.replace('/', '-')}.zip", name, change)
        verdict = verify(clean_python, tampered, work)
        assert verdict.returncode == 1, (name, verdict.stdout, verdict.stderr)
        failed = [line for line in verdict.stdout.splitlines() if line.startswith("FAILED")]
        assert any(said in line for line in failed), (name, failed)
        assert "VERDICT: FAILED" in verdict.stdout
