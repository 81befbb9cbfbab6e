"""`backup` and `restore`: the database, a manifest of every blob it references, and the checks
that prove a restored platform whole (blobs present and intact, audit chain valid, every
snapshot's Merkle root recomputed from its members).

A backup folder holds `manifest.json` (what was taken, with the audit log's head), `blobs.jsonl`
(one line per referenced blob: sha256, size, derived files) and the database: `database.dump`
(`pg_dump --format=custom`) or `database.sqlite3` (SQLite's online backup API). Blobs are copied
into `blobs/` only when asked and only from local file storage; on S3 the bucket's versioning
and replication keep them (docs/operations.md, "Backup and restore drill").
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connection, models
from django.utils import timezone

from core.audit import auditlog_verify
from core.exceptions import ApplicationError
from core.models import AuditEvent
from core.storage import (
    ContentAddressedFileSystemStorage,
    blob_exists,
    blob_name,
    blob_open,
    blob_put_stream,
    blob_storage,
    derived_name,
    sha256_of_file,
)
from provenance import merkle
from provenance.models import Snapshot, SnapshotMember

FORMAT = "cleanroom-backup/1"
MANIFEST, BLOB_MANIFEST, PG_DUMP, SQLITE_DUMP = "manifest.json", "blobs.jsonl", "database.dump", "database.sqlite3"
_DIGEST_FIELD = "sha256"


@dataclass(frozen=True)
class BackupResult:
    path: str
    database: str
    blobs: int
    audit_events: int
    sha256: str  # of the database dump


@dataclass
class RestoreResult:
    restored: bool
    missing_blobs: list[str] = field(default_factory=list)
    auditlog_valid: bool = False
    snapshots_checked: int = 0
    snapshots_bad: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = []
        if self.missing_blobs:
            found.append(f"{len(self.missing_blobs)} blob(s) missing or altered: {', '.join(self.missing_blobs[:5])}")
        if not self.auditlog_valid:
            found.append("the audit log's hash chain is not intact (`auditlog verify`)")
        if self.snapshots_bad:
            found.append(f"snapshot Merkle root(s) do not match their members: {', '.join(self.snapshots_bad)}")
        return found


def backup_create(*, output: Path, with_blobs: bool = False) -> BackupResult:
    """Write a backup of the database and its blob manifest into `output` (new or empty)."""
    if output.exists() and any(output.iterdir()):
        raise ApplicationError(f"the backup folder {output} is not empty", code="backup_folder_not_empty")
    output.mkdir(parents=True, exist_ok=True)
    kind = connection.vendor
    dump = output / (PG_DUMP if kind == "postgresql" else SQLITE_DUMP)
    head = AuditEvent.objects.order_by("-seq").values("seq", "hash").first()
    events = AuditEvent.objects.count()
    if kind == "postgresql":
        _run_pg("pg_dump", "--format=custom", "--no-owner", f"--file={dump}", connection.settings_dict["NAME"])
    elif kind == "sqlite":
        _sqlite_copy(Path(connection.settings_dict["NAME"]), dump)
    else:
        raise ApplicationError(f"backups know PostgreSQL and SQLite, not {kind}", code="backup_unsupported")
    dump_sha256 = _file_sha256(dump)

    blobs = _referenced_blobs()
    copy_to = output / "blobs" if with_blobs else None
    if with_blobs and not isinstance(blob_storage(), ContentAddressedFileSystemStorage):
        raise ApplicationError(
            "--with-blobs copies local file storage only; S3 blobs are kept by the bucket's versioning and replication",
            code="backup_blobs_on_s3",
        )
    with (output / BLOB_MANIFEST).open("w", encoding="utf-8") as lines:
        for entry in blobs:
            lines.write(json.dumps(entry, sort_keys=True) + "\n")
            if copy_to is not None:
                for name in [blob_name(entry["sha256"]), *(d["name"] for d in entry["derived"])]:
                    target = copy_to / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with blob_storage().open(name, "rb") as source, target.open("wb") as out:
                        shutil.copyfileobj(source, out)
    manifest = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(),
        "platform_version": _platform_version(),
        "database": {"kind": kind, "file": dump.name, "sha256": dump_sha256},
        "counts": {
            "blobs": len(blobs),
            "derived_files": sum(len(e["derived"]) for e in blobs),
            "audit_events": events,
            "snapshots": Snapshot.objects.count(),
        },
        "audit_head": {"seq": head["seq"], "hash": head["hash"]} if head else None,
        "blob_storage": type(blob_storage()).__name__,
        "blobs_included": with_blobs,
    }
    (output / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return BackupResult(path=str(output), database=kind, blobs=len(blobs), audit_events=events, sha256=dump_sha256)


def backup_restore(*, source: Path) -> RestoreResult:
    """Restore `source` into the configured database, which must be empty, put back any blobs the
    backup carries, then check the restored platform (see RestoreResult.problems)."""
    manifest = _read_manifest(source)
    dump = source / manifest["database"]["file"]
    if not dump.is_file() or _file_sha256(dump) != manifest["database"]["sha256"]:
        raise ApplicationError(
            f"the database dump {dump} is missing or does not match the manifest's sha256", code="backup_corrupt"
        )
    if manifest["database"]["kind"] != connection.vendor:
        raise ApplicationError(
            f"the backup holds a {manifest['database']['kind']} database; this platform is configured for {connection.vendor}",
            code="backup_wrong_database",
        )
    tables = connection.introspection.table_names()
    if tables:
        raise ApplicationError(
            f"the database {connection.settings_dict['NAME']} is not empty ({len(tables)} tables): restore into an empty one",
            code="database_not_empty",
        )
    if connection.vendor == "postgresql":
        connection.close()
        _run_pg("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={connection.settings_dict['NAME']}", str(dump))
    else:
        target = Path(connection.settings_dict["NAME"])
        connection.close()
        _sqlite_copy(dump, target)
    connection.close()  # the next query sees the restored schema

    carried = source / "blobs"
    expected = _expected_blobs(source)
    if carried.is_dir():
        _put_back(carried, expected)
    return _check(expected=expected, restored=True)


def backup_verify(*, source: Path) -> RestoreResult:
    """The restore's checks alone, against the platform as it is now (after a restore, or in a
    drill): nothing is written."""
    _read_manifest(source)
    return _check(expected=_expected_blobs(source), restored=False)


def _expected_blobs(source: Path) -> list[dict[str, Any]]:
    try:
        text = (source / BLOB_MANIFEST).read_text(encoding="utf-8")
    except OSError as exc:
        message = f"the blob manifest {source / BLOB_MANIFEST} cannot be read: {exc}"
        raise ApplicationError(message, code="backup_corrupt") from None
    return [json.loads(line) for line in text.splitlines() if line]


def _check(*, expected: list[dict[str, Any]], restored: bool) -> RestoreResult:
    """Every expected blob present with its sha256; the audit chain; every snapshot's root."""
    result = RestoreResult(restored=restored)
    for entry in expected:
        if not blob_exists(entry["sha256"]):
            result.missing_blobs.append(entry["sha256"])
            continue
        with blob_open(entry["sha256"]) as handle:
            if sha256_of_file(handle) != (entry["sha256"], entry["size"]):
                result.missing_blobs.append(entry["sha256"])
    result.auditlog_valid = auditlog_verify().valid
    for snapshot in Snapshot.objects.order_by("created_at").only("id", "merkle_root"):
        members = SnapshotMember.objects.filter(snapshot=snapshot).order_by("index")
        leaves = [
            merkle.leaf_hash(merkle.snapshot_leaf(asset_sha256=sha, consent_id=str(cid), consent_digest=digest))
            for sha, cid, digest in members.values_list("asset_sha256", "consent_id", "consent_digest")
        ]
        result.snapshots_checked += 1
        if not leaves or merkle.merkle_root(leaves).hex() != snapshot.merkle_root:
            result.snapshots_bad.append(str(snapshot.pk))
    return result


def _referenced_blobs() -> list[dict[str, Any]]:
    """Every digest a model keeps in a `sha256` / `*_sha256` field that names a stored blob, with
    its derived files. Digests of things kept elsewhere (model weights on disk) are not blobs."""
    digests: set[str] = set()
    for model in apps.get_models():
        for model_field in model._meta.get_fields():
            if isinstance(model_field, models.CharField) and model_field.name.endswith(_DIGEST_FIELD):
                values = model._default_manager.exclude(**{model_field.name: ""}).values_list(model_field.name, flat=True)
                digests.update(v for v in values.distinct() if v and len(v) == 64)
    storage, entries = blob_storage(), []
    for digest in sorted(digests):
        try:
            name = blob_name(digest)
        except ValueError:
            continue
        if not storage.exists(name):
            continue
        folder = f"derived/{name}"
        try:
            _, labels = storage.listdir(folder)
        except FileNotFoundError:
            labels = []
        derived = [{"name": derived_name(digest, label), "size": storage.size(f"{folder}/{label}")} for label in sorted(labels)]
        entries.append({"sha256": digest, "size": storage.size(name), "derived": derived})
    return entries


def _put_back(carried: Path, expected: list[dict[str, Any]]) -> None:
    storage = blob_storage()
    for entry in expected:
        path = carried / blob_name(entry["sha256"])
        if path.is_file() and not blob_exists(entry["sha256"]):
            with path.open("rb") as stream:
                blob_put_stream(stream)  # hashed again: a corrupted copy lands under its own digest
        for derived in entry["derived"]:
            copy = carried / derived["name"]
            if copy.is_file() and not storage.exists(derived["name"]):
                with copy.open("rb") as stream:
                    storage.save(derived["name"], stream)


def _read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ApplicationError(
            f"{source} is not a backup folder: {MANIFEST} cannot be read ({exc})", code="backup_corrupt"
        ) from None
    if manifest.get("format") != FORMAT:
        raise ApplicationError(f"{source}/{MANIFEST} is not a {FORMAT} manifest", code="backup_corrupt")
    return manifest


def _pg_binary(name: str) -> str:
    """The client tool of the server's major version (Debian installs one folder per version)."""
    major = connection.pg_version // 10000  # type: ignore[attr-defined]
    versioned = Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    return str(versioned) if versioned.is_file() else (shutil.which(name) or name)


def _run_pg(tool: str, *arguments: str) -> None:
    connection.ensure_connection()
    database = connection.settings_dict
    env = {
        **os.environ,
        "PGHOST": database["HOST"] or "",
        "PGPORT": str(database["PORT"] or ""),
        "PGUSER": database["USER"] or "",
    }
    if database.get("PASSWORD"):
        env["PGPASSWORD"] = database["PASSWORD"]
    try:
        done = subprocess.run([_pg_binary(tool), *arguments], env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ApplicationError(f"{tool} cannot be run: {exc}", code="backup_tool_missing") from None
    if done.returncode != 0:
        raise ApplicationError(f"{tool} failed: {done.stderr.strip()[-2000:]}", code=f"{tool.replace('_', '')}_failed")


def _sqlite_copy(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return sha256_of_file(handle)[0]


def _platform_version() -> str:
    try:
        return metadata.version("cleanroom")
    except metadata.PackageNotFoundError:
        return "unknown"
