"""The CSV and JSON exports of a snapshot: one row (one object) per member, in leaf order, then
the exclusions; streamed from `records`, so the file is never whole in memory.

Both are byte-identical for two exports of the same snapshot while its records do not change:
fixed column order, sorted keys, fixed separators, UTF-8, a newline at the end. A tainted
snapshot says TAINTED on every CSV row and at the top of the JSON, with the revocations.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import IO, Any

from core.spreadsheet import csv_safe
from provenance.exports.formats import Progress
from provenance.exports.records import (
    CHUNK,
    ExclusionRecord,
    FindingOutcome,
    MemberRecord,
    SnapshotReport,
    exclusion_records,
    member_records,
    snapshot_report,
)
from provenance.models import Snapshot
from provenance.selectors import snapshot_get

REPORT_FORMAT = "cleanroom-snapshot-report-v1"
# How many missing blobs the notes name (each member row says it too).
MISSING_NAMED = 20
CSV_COLUMNS = (
    "record",
    "snapshot_id",
    "snapshot_status",
    "leaf_index",
    "leaf_hash",
    "asset_id",
    "sha256",
    "format",
    "mime_type",
    "size",
    "width",
    "height",
    "source_url",
    "source_collection",
    "licensor",
    "licence_spdx",
    "contributor_id",
    "contributor",
    "consent_id",
    "consent_digest",
    "consent_scopes",
    "terms_version",
    "granted_at",
    "expires_at",
    "consent_revoked_at",
    "evidence_sha256",
    "depicted_persons",
    "auditors",
    "findings",
    "blob_missing",
    "excluded_reason",
    "excluded_detail",
)


class _MissingBlobs:
    """Counts the members whose image is gone from the blob store, naming the first few."""

    def __init__(self) -> None:
        self.count = 0
        self.named: list[str] = []

    def see(self, record: MemberRecord) -> None:
        if record.blob_missing:
            self.count += 1
            if len(self.named) < MISSING_NAMED:
                self.named.append(record.asset_id)

    def notes(self) -> dict[str, Any]:
        if not self.count:
            return {}
        shown = ", ".join(self.named) + (f" and {self.count - len(self.named)} more" if self.count > len(self.named) else "")
        return {
            "warnings": [f"{self.count} member image(s) missing from the blob store; their records are exported: {shown}"],
            "missing_blobs": self.count,
        }


def _members(snapshot: Snapshot, progress: Progress, missing: _MissingBlobs) -> Iterator[MemberRecord]:
    for done, record in enumerate(member_records(snapshot), start=1):
        missing.see(record)
        yield record
        if done % CHUNK == 0:
            progress(done, snapshot.asset_count)
    progress(snapshot.asset_count, snapshot.asset_count)


def _status_text(report: SnapshotReport) -> str:
    return "TAINTED" if report.tainted else report.status


def _finding_text(finding: FindingOutcome) -> str:
    said = f"{finding.auditor} {finding.version} {finding.code} (score {finding.score:g}): {finding.status}"
    if finding.resolved_by:
        said += f" by {finding.resolved_by} on {finding.resolved_at}"
    if finding.reason:
        said += f", reason: {finding.reason}"
    return said


def _member_row(report: SnapshotReport, record: MemberRecord) -> list[Any]:
    return [
        "member",
        report.snapshot_id,
        _status_text(report),
        record.leaf_index,
        record.leaf_hash,
        record.asset_id,
        record.sha256,
        record.format,
        record.mime_type,
        record.size,
        record.width,
        record.height,
        record.source_url,
        record.source_collection,
        record.licensor,
        record.licence_spdx,
        record.contributor_id,
        record.contributor,
        record.consent_id,
        record.consent_digest,
        "; ".join(record.consent_scopes),
        record.terms_version,
        record.granted_at,
        record.expires_at,
        record.consent_revoked_at,
        record.evidence_sha256,
        "; ".join(record.depicted_persons),
        "; ".join(f"{run.auditor} {run.version}: {run.status}" for run in record.audit.runs),
        " | ".join(_finding_text(finding) for finding in record.audit.findings),
        "yes" if record.blob_missing else "no",
        "",
        "",
    ]


def _exclusion_row(report: SnapshotReport, record: ExclusionRecord) -> list[Any]:
    row: list[Any] = [""] * len(CSV_COLUMNS)
    row[:3] = ["excluded", report.snapshot_id, _status_text(report)]
    row[CSV_COLUMNS.index("asset_id")] = record.asset_id
    row[CSV_COLUMNS.index("sha256")] = record.sha256
    row[-2:] = [record.reason, record.detail]
    return row


def csv_write(snapshot_id: str, handle: IO[bytes], progress: Progress) -> dict[str, Any]:
    snapshot = snapshot_get(snapshot_id=snapshot_id)
    report = snapshot_report(snapshot)
    missing = _MissingBlobs()
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=False)
    try:
        writer = csv.writer(text)
        writer.writerow(CSV_COLUMNS)
        for record in _members(snapshot, progress, missing):
            writer.writerow([csv_safe(cell) for cell in _member_row(report, record)])
        for exclusion in exclusion_records(snapshot):
            writer.writerow([csv_safe(cell) for cell in _exclusion_row(report, exclusion)])
        text.flush()
    finally:
        text.detach()  # the caller owns `handle`
    return missing.notes()


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def report_document(report: SnapshotReport) -> dict[str, Any]:
    """The snapshot as a whole, as the JSON (and any format that wants the same words) says it."""
    document = asdict(report)
    document["status"] = _status_text(report)
    document["scopes"] = list(report.scopes)
    return document


def json_write(snapshot_id: str, handle: IO[bytes], progress: Progress) -> dict[str, Any]:
    """One JSON document: `format`, `snapshot`, then `members` one per line, `exclusions`, and
    `warnings` (e.g. missing images), in that order; inside each object the keys are sorted."""
    snapshot = snapshot_get(snapshot_id=snapshot_id)
    report = snapshot_report(snapshot)
    missing = _MissingBlobs()
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="\n", write_through=False)
    try:
        text.write(f'{{"format":{_json(REPORT_FORMAT)},\n"snapshot":{_json(report_document(report))},\n"members":[')
        for number, record in enumerate(_members(snapshot, progress, missing)):
            text.write(("\n" if number == 0 else ",\n") + _json(asdict(record)))
        text.write('\n],\n"exclusions":[')
        for number, exclusion in enumerate(exclusion_records(snapshot)):
            text.write(("\n" if number == 0 else ",\n") + _json(asdict(exclusion)))
        notes = missing.notes()
        text.write(f'\n],\n"warnings":{_json(notes.get("warnings", []))}}}\n')
        text.flush()
    finally:
        text.detach()
    return notes
