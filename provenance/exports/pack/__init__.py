"""The compliance pack (`--format pack`): one C2PA-signed ZIP a third party checks on their own
machine, with `verify_pack.py` (shipped inside, standard library plus c2pa-python) and no access
to ours.

It holds (entries sorted by name, every timestamp the snapshot's creation, so two packs of one
snapshot differ only in the signature, META-INF/content_credential.c2pa):

- `croissant.jsonld` and `records.csv`: the registry's own formats, required (the verifier
  checks the Croissant's file hashes against the Merkle leaves);
- `report.pdf`: when the `pdf` format is available; otherwise pack.json and VERIFY.md say the
  PDF is not part of this pack (the records it would render are in the CSV and the Croissant);
- `snapshot/container.zip`: the signed snapshot container, and `models/<id>.zip`: the signed
  containers of every model trained on it (training provides them: `on_snapshot_models`);
- `proofs.jsonl`: one Merkle inclusion proof per member, all from one tree built once;
- `anchor/trust-anchors.pem`, `verify_pack.py`, `VERIFY.md`, and `pack.json`, which names every
  other file with its sha256 (the signature covers pack.json with the rest).

Memory: every member file is written to a temporary folder first (the formats stream), then
copied into the ZIP, which is signed from a file; only the tree's hashes (32 bytes a leaf, on each
level) are held. The C2PA SDK itself holds part of the ZIP while it signs (bench/pack.py: about
200 MiB for the 423 MiB pack of 100,000 members), which is the one part that grows with the pack.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any

from core.exceptions import ApplicationError
from core.storage import blob_exists, blob_open
from provenance.c2pa.manifests import sign_container_file
from provenance.c2pa.signer import trust_anchors_pem
from provenance.exports.formats import SNAPSHOT, Progress, Writer, export_formats
from provenance.exports.records import CHUNK, SnapshotReport, snapshot_report
from provenance.exports.tabular import report_document
from provenance.merkle import leaf_hash, level_proof, merkle_levels, snapshot_leaf
from provenance.models import Snapshot, SnapshotMember
from provenance.selectors import snapshot_get, snapshot_refusal
from provenance.services.snapshot_export import snapshot_container

PACK_FORMAT = "cleanroom-compliance-pack-v1"
PACK_ASSERTION = "org.cleanroom.compliance-pack"
PACK_DOCUMENT = "pack.json"
PROOFS = "proofs.jsonl"
ANCHORS = "anchor/trust-anchors.pem"
SNAPSHOT_CONTAINER = "snapshot/container.zip"
VERIFY_SCRIPT = "verify_pack.py"
VERIFY_STEPS = "VERIFY.md"
_SCRIPT_SOURCE = Path(__file__).with_name(VERIFY_SCRIPT)


@dataclass(frozen=True)
class PackedFormat:
    format: str  # the registry's snapshot format
    path: str  # its name in the pack
    what: str
    required: bool


PACKED_FORMATS = (
    PackedFormat("croissant", "croissant.jsonld", "Croissant 1.1 + RAI metadata: every member file with its SHA-256", True),
    PackedFormat("csv", "records.csv", "one row per member and per exclusion", True),
    PackedFormat("pdf", "report.pdf", "the report for people: summary, charts, records, review decisions", False),
)


# -- the models trained on a snapshot: training provides them (provenance may not import it) ----
@dataclass(frozen=True)
class SignedModel:
    model_id: str
    container_sha256: str


SnapshotModels = Callable[[Snapshot], list[SignedModel]]
_snapshot_models: list[SnapshotModels] = []


def on_snapshot_models(provider: SnapshotModels) -> None:
    """Register who lists the signed models trained on a snapshot (training does, in its ready())."""
    if provider not in _snapshot_models:
        _snapshot_models.append(provider)


def _models(snapshot: Snapshot) -> list[SignedModel]:
    found = {model.model_id: model for provider in _snapshot_models for model in provider(snapshot)}
    return [found[model_id] for model_id in sorted(found)]


# -- the pack -------------------------------------------------------------------------------------
def _member_formats() -> tuple[list[PackedFormat], list[PackedFormat]]:
    """(the formats to pack, the optional ones this installation cannot make); refuses when a
    required one is unavailable."""
    available = {f.name: f for f in export_formats(SNAPSHOT) if f.available}
    packed, missing = [], []
    for member in PACKED_FORMATS:
        if member.format in available:
            packed.append(member)
        elif member.required:
            raise ApplicationError(
                f"the compliance pack needs the {member.format} export, which is not available here",
                code="pack_member_unavailable",
                status=409,
            )
        else:
            missing.append(member)
    return packed, missing


def _leaf_rows(snapshot: Snapshot) -> Iterator[tuple[int, str, str, str]]:
    """(index, asset sha256, consent id, consent digest) in leaf order, CHUNK leaves a query."""
    for start in range(0, snapshot.asset_count, CHUNK):
        for index, sha256, consent_id, digest in (
            SnapshotMember.objects.filter(snapshot=snapshot, index__gte=start, index__lt=start + CHUNK)
            .order_by("index")
            .values_list("index", "asset_sha256", "consent_id", "consent_digest")
        ):
            yield index, sha256, str(consent_id), digest


def _proofs_write(snapshot: Snapshot, handle: IO[bytes], progress: Progress) -> None:
    """One line per member: its leaf and its audit path. The tree is built once from the leaf
    hashes (one pass), then a second pass writes each leaf's path from the stored levels."""
    levels = merkle_levels(
        [
            leaf_hash(snapshot_leaf(asset_sha256=sha, consent_id=cid, consent_digest=dig))
            for _, sha, cid, dig in _leaf_rows(snapshot)
        ]
    )
    if snapshot.asset_count and levels[-1][0].hex() != snapshot.merkle_root:
        raise ApplicationError(
            f"snapshot {snapshot.pk}'s members no longer give its Merkle root {snapshot.merkle_root}",
            code="snapshot_root_mismatch",
            status=409,
        )
    for index, sha256, consent_id, digest in _leaf_rows(snapshot):
        line = {
            "index": index,
            "asset_sha256": sha256,
            "consent_id": consent_id,
            "consent_digest": digest,
            "leaf_hash": levels[0][index].hex(),
            "path": [[side, sibling.hex()] for side, sibling in level_proof(levels, index)],
        }
        handle.write(json.dumps(line, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n")
        if (index + 1) % CHUNK == 0:
            progress(index + 1, snapshot.asset_count)


def _snapshot_container_sha256(snapshot: Snapshot) -> tuple[str, str]:
    """(the signed container's sha256, "" or why the pack has none). A usable snapshot gets its
    container now if it has none yet (the one every model trained on it would name)."""
    if not snapshot.container_sha256 and snapshot_refusal(snapshot) is None:
        snapshot = snapshot_container(snapshot.pk)
    if not snapshot.container_sha256:
        return "", f"snapshot {snapshot.pk} is {snapshot.status} and was never exported as a signed container"
    if not blob_exists(snapshot.container_sha256):
        return "", f"the signed container {snapshot.container_sha256} is missing from the blob store"
    return snapshot.container_sha256, ""


class _Folder:
    """The pack's files, written to a temporary folder and hashed as they are made."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, dict[str, Any]] = {}

    def add(self, name: str, what: str, write: Callable[[IO[bytes]], Any]) -> Any:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            result = write(handle)
        digest, size = hashlib.sha256(), 0
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
                size += len(block)
        self.files[name] = {"path": name, "sha256": digest.hexdigest(), "size": size, "what": what}
        return result

    def add_bytes(self, name: str, what: str, data: bytes) -> None:
        self.add(name, what, lambda handle: handle.write(data))

    def add_blob(self, name: str, what: str, sha256: str) -> None:
        def copy(handle: IO[bytes]) -> None:
            with blob_open(sha256) as blob:
                shutil.copyfileobj(blob, handle, 1 << 20)

        self.add(name, what, copy)
        if self.files[name]["sha256"] != sha256:
            raise ApplicationError(f"the blob {sha256} does not hash to its name", code="blob_corrupt", status=409)


def _writing(writer: Writer, snapshot_id: str, progress: Progress) -> Callable[[IO[bytes]], dict[str, Any]]:
    return lambda handle: writer(snapshot_id, handle, progress)


def pack_write(snapshot_id: str, handle: IO[bytes], progress: Progress) -> dict[str, Any]:
    """The `pack` export format (provenance.exports.formats)."""
    snapshot = snapshot_get(snapshot_id=snapshot_id)
    packed, unavailable = _member_formats()
    container_sha256, no_container = _snapshot_container_sha256(snapshot)
    snapshot = Snapshot.objects.select_related("dataset", "created_by").get(pk=snapshot.pk)
    report = snapshot_report(snapshot)
    warnings: list[str] = []
    models = []
    for model in _models(snapshot):
        if blob_exists(model.container_sha256):
            models.append(model)
        else:
            warnings.append(f"model {model.model_id}'s signed container {model.container_sha256} is missing from the blob store")
    by_name = {f.name: f for f in export_formats(SNAPSHOT)}
    with tempfile.TemporaryDirectory(prefix="cleanroom-pack-") as temporary:
        folder = _Folder(Path(temporary) / "files")
        for member in packed:
            notes = folder.add(
                member.path, member.what, _writing(by_name[member.format].load_writer(), str(snapshot.pk), progress)
            )
            warnings += [said for said in (notes or {}).get("warnings", []) if said not in warnings]
        folder.add(PROOFS, "one Merkle inclusion proof per member", lambda out: _proofs_write(snapshot, out, progress))
        if container_sha256:
            folder.add_blob(SNAPSHOT_CONTAINER, "the signed snapshot container", container_sha256)
        for model in models:
            folder.add_blob(
                f"models/{model.model_id}.zip", "the signed container of a model trained on it", model.container_sha256
            )
        folder.add_bytes(ANCHORS, "the trust anchor the signatures chain to", trust_anchors_pem().encode("ascii"))
        folder.add_bytes(VERIFY_SCRIPT, "the verifier: Python 3 and c2pa-python", _SCRIPT_SOURCE.read_bytes())
        folder.add_bytes(VERIFY_STEPS, "how to verify this pack", _verify_steps(report, models, unavailable, no_container))
        document = _pack_document(report, folder, models, unavailable, no_container, container_sha256)
        document["warnings"] = warnings
        document_bytes = json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8") + b"\n"
        folder.add_bytes(PACK_DOCUMENT, "", document_bytes)
        unsigned = Path(temporary) / "unsigned.zip"
        _zip(folder, unsigned, snapshot)
        with unsigned.open("rb") as source, tempfile.TemporaryFile(dir=temporary) as signed:
            sign_container_file(
                source=source,
                destination=signed,
                title=f"Cleanroom compliance pack of snapshot {snapshot.pk}",
                assertions=[
                    {
                        "label": PACK_ASSERTION,
                        "data": {
                            "snapshot_id": str(snapshot.pk),
                            "merkle_root": snapshot.merkle_root,
                            "status": report.status_label,
                            "pack_document_sha256": hashlib.sha256(document_bytes).hexdigest(),
                        },
                    }
                ],
            )
            signed.seek(0)
            shutil.copyfileobj(signed, handle, 1 << 20)
    return {"warnings": warnings} if warnings else {}


def _zip(folder: _Folder, target: Path, snapshot: Snapshot) -> None:
    """Stored, not deflated (the C2PA SDK reads only stored members), in name order, every entry
    dated from the snapshot: the same files make the same bytes."""
    moment = snapshot.created_at.astimezone(UTC)
    stamp = (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second - moment.second % 2)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name in sorted(folder.files):
            info = zipfile.ZipInfo(name, stamp)
            info.external_attr = 0o644 << 16
            with (folder.root / name).open("rb") as source, archive.open(info, "w", force_zip64=True) as entry:
                shutil.copyfileobj(source, entry, 1 << 20)


def _pack_document(
    report: SnapshotReport,
    folder: _Folder,
    models: list[SignedModel],
    unavailable: list[PackedFormat],
    no_container: str,
    container_sha256: str,
) -> dict[str, Any]:
    return {
        "format": PACK_FORMAT,
        "snapshot": report_document(report),
        "status": report.status_label,
        "merkle_root": report.merkle_root,
        "member_count": report.member_count,
        "proofs": PROOFS,
        "croissant": "croissant.jsonld",
        "anchors": ANCHORS,
        "snapshot_container": {"path": SNAPSHOT_CONTAINER, "sha256": container_sha256} if container_sha256 else None,
        "snapshot_container_absent": no_container,
        "models": [
            {"id": model.model_id, "path": f"models/{model.model_id}.zip", "sha256": model.container_sha256} for model in models
        ],
        "not_included": [
            {
                "format": member.format,
                "path": member.path,
                "reason": f"this installation cannot make the {member.format} export yet",
            }
            for member in unavailable
        ],
        "files": [folder.files[name] for name in sorted(folder.files)],
    }


def _verify_steps(report: SnapshotReport, models: list[SignedModel], unavailable: list[PackedFormat], no_container: str) -> bytes:
    lines = [f"# Compliance pack: snapshot {report.snapshot_id} of {report.dataset_name} ({report.dataset})", ""]
    if report.tainted:
        lines += ["**TAINTED.** A consent in this snapshot was withdrawn or has expired after it was frozen:", ""]
        lines += [
            f"- consent {lapse.consent_id}: {lapse.kind} on {lapse.at} by {lapse.actor}: {lapse.reason}"
            for lapse in report.lapses
        ]
        lines += ["", "Nothing may be trained on it any more. This pack shows what it held and what happened.", ""]
    lines += [
        f"- Status: {report.status_label}",
        f"- Members: {report.member_count}; left out: {report.exclusion_count}",
        f"- Merkle root: `{report.merkle_root}`",
        f"- Tree: {report.tree}",
        f"- Leaves: {report.leaf_definition}",
        f"- Approved by: {', '.join(a.reviewer for a in report.approvals) or 'nobody'}"
        + (f" (on {report.approved_at})" if report.approved_at else ""),
        f"- Models trained on it: {', '.join(m.model_id for m in models) or 'none'}",
        "",
        "## What is in the pack",
        "",
        "- `pack.json`: what the pack is, and every file's SHA-256.",
        "- `croissant.jsonld`: the dataset's metadata (Croissant 1.1 with RAI), every member file with its SHA-256.",
        "- `records.csv`: one row per member (source, licence, consent, audit outcome) and per exclusion.",
    ]
    if not unavailable:
        lines.append("- `report.pdf`: the same records for people: summary, charts, review decisions.")
    lines += [f"- Not included: the {m.format} export ({m.path}); this installation cannot make it yet." for m in unavailable]
    lines += [
        "- `proofs.jsonl`: for each member, its Merkle leaf and the audit path from it to the root.",
        "- `snapshot/container.zip`: the snapshot as signed when it was approved (C2PA)."
        if not no_container
        else f"- No signed snapshot container: {no_container}.",
        "- `models/<id>.zip`: the signed container of each model trained on this snapshot (C2PA).",
        "- `anchor/trust-anchors.pem`: the certificate every signature must chain to.",
        "- `verify_pack.py`: the verifier.",
        "",
        "## How to verify it",
        "",
        "On any machine with Python 3.10 or later; Cleanroom is not needed.",
        "",
        "1. Get the organisation's trust anchor from them by another channel than this pack, and",
        "   compare its SHA-256 fingerprint with the one `verify_pack.py` prints for `anchor/trust-anchors.pem`",
        "   (or pass your own copy with `--anchors FILE`). A pack can only vouch for itself with an anchor you trust.",
        f"2. `python -m venv venv && venv/bin/pip install c2pa-python=={version('c2pa-python')}`",
        "3. Unzip `verify_pack.py` from the pack and run `venv/bin/python verify_pack.py PACK.zip`.",
        "   With `--files FOLDER` it also checks that each image in FOLDER has the SHA-256 the Croissant names.",
        "",
        "It checks, and says which check failed:",
        "",
        "- the pack's C2PA signature, the snapshot container's and each model container's, against the anchor",
        "  (signed by an identity the anchor vouches for, and nothing changed since);",
        "- every file's SHA-256 against `pack.json`;",
        "- every member file's SHA-256 in the Croissant against the Merkle leaves;",
        "- every proof: the leaf is SHA-256(0x00 || '<asset sha256>:<consent id>:<consent digest>'), and folding",
        "  its path (node = SHA-256(0x01 || left || right)) gives the Merkle root; the snapshot container names the same root;",
        "- each model container names this snapshot's container as what it was trained on.",
        "",
        "It prints `VERDICT: OK` and exits 0, or `VERDICT: FAILED` with the reasons and exits 1.",
        "",
    ]
    return "\n".join(lines).encode("utf-8")
