"""Verify a Cleanroom compliance pack, on any machine: Python 3.10+ and c2pa-python only.

    python verify_pack.py PACK.zip [--anchors FILE] [--files FOLDER]

Checks the pack's C2PA signature and those of the containers inside it against the trust anchor,
every file's SHA-256 against pack.json, the Croissant's file hashes against the Merkle leaves,
every inclusion proof against the Merkle root, and that each model names this snapshot. Prints
each check and a verdict; exits 0 when everything holds, 1 when something does not, 2 when the
pack cannot be read at all.

This file is shipped inside every pack as it is; it imports nothing of Cleanroom.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import zipfile
from typing import IO

import c2pa

CONTAINER_MIME_TYPE = "application/x-zip"
NAMED = 10  # how many failing members a check names before it counts the rest


class Checks:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def ok(self, message: str) -> None:
        print(f"ok      {message}")

    def fail(self, message: str) -> None:
        self.failures.append(message)
        print(f"FAILED  {message}")

    def named(self, what: str, failing: list[str], total: int) -> None:
        shown = ", ".join(failing[:NAMED]) + (f" and {len(failing) - NAMED} more" if len(failing) > NAMED else "")
        if failing:
            self.fail(f"{what}: {len(failing)} of {total} do not hold: {shown}")
        else:
            self.ok(f"{what}: all {total} hold")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def c2pa_reading(data: bytes | IO[bytes], anchors: str) -> dict:
    """The manifest store, read offline and judged against `anchors` (as Cleanroom reads it)."""
    context = c2pa.Context.from_dict(
        {
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            "core": {"allowed_network_hosts": []},
            "trust": {"user_anchors": anchors},
        }
    )
    try:
        stream = io.BytesIO(data) if isinstance(data, bytes) else data
        reader = c2pa.Reader.try_create(CONTAINER_MIME_TYPE, stream, None, context)
        if reader is None:
            return {"problem": "it carries no C2PA manifest"}
        with reader:
            return json.loads(reader.json())
    except Exception as error:  # a broken manifest is a finding, not a crash
        return {"problem": f"its manifest cannot be read: {error}"}


def failure_codes(store: dict) -> list[str]:
    entries = list(store.get("validation_status") or [])
    results = store.get("validation_results") or {}
    entries += (results.get("activeManifest") or {}).get("failure") or []
    for delta in results.get("ingredientDeltas") or []:
        entries += ((delta or {}).get("validationDeltas") or {}).get("failure") or []
    return sorted({entry.get("code", "?") for entry in entries if isinstance(entry, dict)})


def check_signature(checks: Checks, what: str, data: bytes | IO[bytes], anchors: str) -> dict:
    store = c2pa_reading(data, anchors)
    if "problem" in store:
        checks.fail(f"signature of {what}: {store['problem']}")
        return {}
    state, codes = store.get("validation_state"), failure_codes(store)
    if state == "Trusted" and not codes:
        manifest = (store.get("manifests") or {}).get(store.get("active_manifest") or "", {})
        signer = (manifest.get("signature_info") or {}).get("common_name") or "?"
        checks.ok(f"signature of {what}: trusted, signed by {signer}")
    elif state in ("Valid", "Trusted") and not codes:
        checks.fail(f"signature of {what}: intact but not signed by an identity the anchor vouches for")
    else:
        checks.fail(f"signature of {what}: {state or 'invalid'} ({', '.join(codes) or 'no reason given'})")
    return store


def read_member(checks: Checks, archive: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        return archive.read(name)
    except KeyError:
        checks.fail(f"{name}: not in the pack")
    except (zipfile.BadZipFile, OSError) as error:
        checks.fail(f"{name}: damaged ({error})")
    return None


def check_files(checks: Checks, archive: zipfile.ZipFile, listed: list[dict]) -> None:
    names = set(archive.namelist())
    for entry in listed:
        path = entry.get("path", "")
        if path not in names:
            checks.fail(f"file {path}: listed in pack.json but not in the pack")
            continue
        digest = hashlib.sha256()
        try:
            with archive.open(path) as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
        except (zipfile.BadZipFile, OSError) as error:
            checks.fail(f"file {path}: damaged ({error})")
            continue
        if digest.hexdigest() == entry.get("sha256"):
            checks.ok(f"file {path}: sha256 {entry['sha256'][:16]}… as pack.json says")
        else:
            checks.fail(f"file {path}: sha256 {digest.hexdigest()} but pack.json says {entry.get('sha256')}")
    unlisted = sorted(n for n in names - {e.get("path") for e in listed} if n != "pack.json" and not n.startswith("META-INF/"))
    if unlisted:
        checks.fail(f"files not listed in pack.json: {', '.join(unlisted)}")


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def check_proofs(checks: Checks, archive: zipfile.ZipFile, pack: dict) -> list[str]:
    """Every proof folds to the root; returns the leaves' asset sha256s in leaf order."""
    root, count = pack.get("merkle_root", ""), int(pack.get("member_count", -1))
    failing: list[str] = []
    sha256s: list[str] = []
    try:
        with archive.open(pack.get("proofs", "proofs.jsonl")) as handle:
            for number, line in enumerate(io.TextIOWrapper(handle, encoding="ascii")):
                try:
                    proof = json.loads(line)
                    leaf = f"{proof['asset_sha256']}:{proof['consent_id']}:{proof['consent_digest']}".encode("ascii")
                    node = hashlib.sha256(b"\x00" + leaf).digest()
                    good = proof["index"] == number and node.hex() == proof["leaf_hash"]
                    for side, sibling in proof["path"]:
                        node = (
                            node_hash(bytes.fromhex(sibling), node) if side == "left" else node_hash(node, bytes.fromhex(sibling))
                        )
                    good = good and node.hex() == root
                    sha256s.append(proof["asset_sha256"])
                except (KeyError, TypeError, ValueError):
                    good = False
                    sha256s.append("")
                if not good:
                    failing.append(f"member {number}")
    except (KeyError, zipfile.BadZipFile, OSError, UnicodeDecodeError) as error:
        checks.fail(f"proofs: cannot be read ({error})")
        return sha256s
    checks.named(f"Merkle inclusion proofs against root {root[:16]}…", failing, len(sha256s))
    if len(sha256s) != count:
        checks.fail(f"proofs: {len(sha256s)} proofs for {count} members")
    return sha256s


def check_croissant(checks: Checks, archive: zipfile.ZipFile, pack: dict, leaves: list[str]) -> set[str]:
    data = read_member(checks, archive, pack.get("croissant", "croissant.jsonld"))
    if data is None:
        return set()
    try:
        croissant = json.loads(data)
        files = [d for d in croissant.get("distribution", []) if d.get("@type") == "cr:FileObject"]
    except (ValueError, AttributeError) as error:
        checks.fail(f"Croissant: not a JSON-LD document ({error})")
        return set()
    hashes = [entry.get("sha256", "") for entry in files]
    known = set(leaves)
    failing = [
        f"{entry.get('name', '?')} (sha256 {entry.get('sha256', '')[:16]}…)"
        for entry in files
        if entry.get("sha256") not in known
    ]
    checks.named("Croissant file hashes found among the Merkle leaves", failing, len(files))
    missing = sorted(known - set(hashes))
    if missing:
        checks.fail(
            f"Croissant: {len(missing)} Merkle leaves have no file in it: {', '.join(m[:16] + '…' for m in missing[:NAMED])}"
        )
    return set(hashes)


def check_folder(checks: Checks, folder: str, croissant_hashes: set[str]) -> None:
    seen: set[str] = set()
    failing: list[str] = []
    for base, _, names in os.walk(folder):
        for name in sorted(names):
            with open(os.path.join(base, name), "rb") as handle:
                digest = (
                    hashlib.file_digest(handle, "sha256").hexdigest()
                    if hasattr(hashlib, "file_digest")
                    else sha256_hex(handle.read())
                )
            if digest in croissant_hashes:
                seen.add(digest)
            elif os.path.splitext(name)[0].lower() in croissant_hashes:
                failing.append(f"{name} (its bytes hash to {digest[:16]}…)")
    checks.named(f"files in {folder} named after a Croissant hash", failing, len(seen) + len(failing))
    checks.ok(f"{len(seen)} of {len(croissant_hashes)} member files found in {folder}")


def check_containers(checks: Checks, archive: zipfile.ZipFile, pack: dict, anchors: str) -> None:
    entry = pack.get("snapshot_container")
    if not entry:
        print(f"note    no signed snapshot container: {pack.get('snapshot_container_absent') or 'none'}")
        return
    container = read_member(checks, archive, entry["path"])
    if container is None:
        return
    check_signature(checks, "the snapshot container", container, anchors)
    if sha256_hex(container) != pack.get("snapshot", {}).get("container_sha256"):
        checks.fail("snapshot container: not the one the snapshot record names")
    try:
        with zipfile.ZipFile(io.BytesIO(container)) as inner:
            frozen = json.loads(inner.read("snapshot.json"))
        if frozen.get("merkle_root") == pack.get("merkle_root"):
            checks.ok("the signed snapshot container names the same Merkle root")
        else:
            checks.fail(f"snapshot container: its Merkle root {frozen.get('merkle_root')} is not the pack's")
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        checks.fail(f"snapshot container: snapshot.json cannot be read ({error})")
    for model in pack.get("models", []):
        data = read_member(checks, archive, model["path"])
        if data is None:
            continue
        check_signature(checks, f"model {model['id']}'s container", data, anchors)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                lineage = json.loads(inner.read("model.json"))
            named = (lineage.get("snapshot") or {}).get("container_sha256")
        except (zipfile.BadZipFile, KeyError, ValueError, AttributeError):
            named = None
        if named == entry["sha256"]:
            checks.ok(f"model {model['id']} was trained on this snapshot's signed container")
        else:
            checks.fail(f"model {model['id']}: its lineage names snapshot container {named}, not this one")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Cleanroom compliance pack.")
    parser.add_argument("pack", help="the pack (a .zip)")
    parser.add_argument("--anchors", help="the organisation's trust anchor (PEM); default: the pack's own copy")
    parser.add_argument("--files", help="a folder of the dataset's images to check against the Croissant's hashes")
    options = parser.parse_args(argv)
    checks = Checks()
    try:
        archive = zipfile.ZipFile(options.pack)  # read member by member: a pack can be larger than memory
        pack = json.loads(archive.read("pack.json"))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as error:
        print(f"VERDICT: FAILED: {options.pack} is not a readable compliance pack ({error})")
        return 2
    snapshot = pack.get("snapshot", {})
    subject = f"snapshot {snapshot.get('snapshot_id')} ({snapshot.get('dataset')})"
    print(f"Compliance pack of {subject}: {pack.get('member_count')} members")
    if pack.get("status") == "TAINTED":
        print("TAINTED: a consent in this snapshot was withdrawn or expired after it was frozen:")
        for lapse in snapshot.get("lapses", []):
            print(f"  consent {lapse.get('consent_id')}: {lapse.get('kind')} on {lapse.get('at')}: {lapse.get('reason')}")
    if options.anchors:
        with open(options.anchors, encoding="ascii") as handle:
            anchors = handle.read()
    else:
        anchors = (read_member(checks, archive, pack.get("anchors", "anchor/trust-anchors.pem")) or b"").decode(
            "ascii", "replace"
        )
    fingerprint = sha256_hex(anchors.encode("ascii", "replace"))
    print(f"trust anchor sha256 {fingerprint}: compare it with the one the organisation publishes")
    with open(options.pack, "rb") as whole:
        check_signature(checks, "the pack", whole, anchors)
    check_files(checks, archive, pack.get("files", []))
    leaves = check_proofs(checks, archive, pack)
    hashes = check_croissant(checks, archive, pack, leaves)
    check_containers(checks, archive, pack, anchors)
    if options.files:
        check_folder(checks, options.files, hashes)
    for missing in pack.get("not_included", []):
        print(f"note    not in this pack: {missing.get('path')} ({missing.get('reason')})")
    if checks.failures:
        print(f"VERDICT: FAILED ({len(checks.failures)} check(s) did not hold)")
        return 1
    print(
        "VERDICT: OK"
        + (" (the pack is authentic; the snapshot it describes is TAINTED)" if pack.get("status") == "TAINTED" else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
