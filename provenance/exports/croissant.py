"""A snapshot as MLCommons Croissant 1.1 JSON-LD with the Responsible AI (RAI 1.0) vocabulary.

What the document holds, all of it read from the export records (`provenance.exports.records`):
- one `cr:FileObject` per member with its SHA-256, and the member's consent as PROV-O: the
  member `prov:wasDerivedFrom` its consent record and `prov:wasAttributedTo` its contributor,
  both named by their ids (`urn:uuid:`), with `usageInfo` saying what that consent allows;
- one `cr:RecordSet` ("members") holding the per-record fields inline, keyed by the SHA-256;
- `rai:` fields counted over the members: how the data was collected, what the PII auditor found
  and how each finding was handled, the auditors that ran, the consented uses, and what is
  missing (exclusions, TAINTED with the revocation that caused it).

Reproducible: every value comes from a record, keys are sorted and members keep leaf order, so
two exports of one snapshot are the same bytes. Streamed: the members are read once, in leaf
order, and never held (their records wait in a temporary file for the RecordSet), so a large
snapshot is written in bounded memory.
"""

from __future__ import annotations

import functools
import io
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from core.storage import blob_name
from provenance.exports.formats import Progress
from provenance.exports.records import (
    CHUNK,
    FindingOutcome,
    MemberRecord,
    SnapshotReport,
    exclusion_records,
    member_records,
    snapshot_report,
)
from provenance.models import Snapshot
from provenance.selectors import snapshot_get

CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
RAI_1_0 = "http://mlcommons.org/croissant/RAI/1.0"
PII_AUDITOR = "pii"
# Every snapshot is frozen once and never changes, so each is the first and only version of
# itself (Croissant asks for MAJOR.MINOR.PATCH); a new freeze is a new snapshot with its own id.
SNAPSHOT_VERSION = "1.0.0"

# The standard Croissant 1.1 @context (as mlcroissant writes it: a validator warns about any key
# missing), plus PROV-O for the per-record consent links.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileObject": "cr:fileObject",
    "fileProperty": "cr:fileProperty",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "prov": "http://www.w3.org/ns/prov#",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

RECORD_SET = "members"


@dataclass(frozen=True)
class _Field:
    name: str
    data_type: str
    description: str
    value: Callable[[MemberRecord], Any]
    is_array: bool = False


def _finding_text(finding: FindingOutcome) -> str:
    text = f"{finding.auditor} {finding.version} {finding.code} (score {finding.score:g}): {finding.status}"
    if finding.resolved_by:
        text += f" by {finding.resolved_by} at {finding.resolved_at}: {finding.reason}"
    return text


def _or_none(text: str) -> str | None:
    return text or None


# The per-record fields, in the order a reader meets them; each is read from the member record.
FIELDS: tuple[_Field, ...] = (
    _Field("sha256", "sc:Text", "SHA-256 of the image's bytes (the record's key).", lambda r: r.sha256),
    _Field("leaf_index", "sc:Integer", "Position of the member's leaf in the snapshot's Merkle tree.", lambda r: r.leaf_index),
    _Field("leaf_hash", "sc:Text", "The leaf's hash (RFC 9162), hex.", lambda r: r.leaf_hash),
    _Field("asset_id", "sc:Text", "The image's id in Cleanroom.", lambda r: r.asset_id),
    _Field("format", "sc:Text", "Image format.", lambda r: r.format),
    _Field("size", "sc:Integer", "Size of the image in bytes.", lambda r: r.size),
    _Field("width", "sc:Integer", "Width in pixels.", lambda r: r.width),
    _Field("height", "sc:Integer", "Height in pixels.", lambda r: r.height),
    _Field("source_url", "sc:Text", "Where the image came from, when licensed from a source.", lambda r: _or_none(r.source_url)),
    _Field("source_collection", "sc:Text", "The source's collection.", lambda r: _or_none(r.source_collection)),
    _Field("licensor", "sc:Text", "Who licensed the image.", lambda r: _or_none(r.licensor)),
    _Field("licence_spdx", "sc:Text", "The licence, as an SPDX id or expression.", lambda r: _or_none(r.licence_spdx)),
    _Field("contributor_id", "sc:Text", "The contributor who supplied the image.", lambda r: r.contributor_id),
    _Field("contributor", "sc:Text", "The contributor's name.", lambda r: r.contributor),
    _Field("consent_id", "sc:Text", "The consent record the image was given under.", lambda r: r.consent_id),
    _Field("consent_digest", "sc:Text", "SHA-256 of the canonical consent document.", lambda r: r.consent_digest),
    _Field("consent_scopes", "sc:Text", "The uses the consent grants.", lambda r: list(r.consent_scopes), is_array=True),
    _Field("terms_version", "sc:Text", "The version of the terms consented to.", lambda r: r.terms_version),
    _Field("granted_at", "sc:Text", "When consent was granted (ISO 8601).", lambda r: r.granted_at),
    _Field("expires_at", "sc:Text", "When the consent expires (ISO 8601), if ever.", lambda r: _or_none(r.expires_at)),
    _Field(
        "consent_revoked_at",
        "sc:Text",
        "When the consent was revoked (ISO 8601), if it was.",
        lambda r: _or_none(r.consent_revoked_at),
    ),
    _Field("evidence_sha256", "sc:Text", "SHA-256 of the signed consent form.", lambda r: r.evidence_sha256),
    _Field(
        "depicted_persons",
        "sc:Text",
        "The people shown whose likeness release is part of the consent.",
        lambda r: list(r.depicted_persons),
        is_array=True,
    ),
    _Field(
        "auditors",
        "sc:Text",
        "Each auditor that examined the image, with its version and the run's status.",
        lambda r: [f"{run.auditor} {run.version}: {run.status}" for run in r.audit.runs],
        is_array=True,
    ),
    _Field(
        "findings",
        "sc:Text",
        "What the auditors found and how each finding was resolved, by whom, when and why.",
        lambda r: [_finding_text(finding) for finding in r.audit.findings],
        is_array=True,
    ),
    _Field("blob_missing", "sc:Boolean", "True when the image's bytes are missing from the store.", lambda r: r.blob_missing),
)


# -- the counts the rai: fields report, from one pass over the members ---------------------------
@dataclass
class _Counts:
    members: int = 0
    contributors: set[str] = field(default_factory=set)
    consents: set[str] = field(default_factory=set)
    terms_versions: set[str] = field(default_factory=set)
    earliest_grant: str = ""
    latest_grant: str = ""
    licences: Counter[str] = field(default_factory=Counter)
    licensors: set[str] = field(default_factory=set)
    unlicensed: int = 0
    consented_everywhere: set[str] | None = None
    scopes: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    auditors: Counter[str] = field(default_factory=Counter)
    pii_audited: int = 0
    pii_findings: Counter[tuple[str, str]] = field(default_factory=Counter)
    pii_images: int = 0
    other_findings: Counter[tuple[str, str]] = field(default_factory=Counter)
    likeness_images: int = 0
    depicted: set[tuple[str, str]] = field(default_factory=set)
    revoked: int = 0
    blobs_missing: int = 0

    def add(self, record: MemberRecord) -> None:
        self.members += 1
        self.contributors.add(record.contributor_id)
        self.consents.add(record.consent_id)
        self.terms_versions.add(record.terms_version)
        self.earliest_grant = min(self.earliest_grant or record.granted_at, record.granted_at)
        self.latest_grant = max(self.latest_grant, record.granted_at)
        if record.licence_spdx:
            self.licences[record.licence_spdx] += 1
        else:
            self.unlicensed += 1
        if record.licensor:
            self.licensors.add(record.licensor)
        scopes = set(record.consent_scopes)
        self.consented_everywhere = scopes if self.consented_everywhere is None else self.consented_everywhere & scopes
        self.scopes.update(scopes)
        self.formats[record.mime_type] += 1
        self.auditors.update({f"{run.auditor} {run.version}" for run in record.audit.runs})
        if any(run.auditor == PII_AUDITOR and run.status == "done" for run in record.audit.runs):
            self.pii_audited += 1
        pii = [f for f in record.audit.findings if f.auditor == PII_AUDITOR]
        self.pii_findings.update((f.code, f.status) for f in pii)
        self.pii_images += bool(pii)
        self.other_findings.update((f.code, f.status) for f in record.audit.findings if f.auditor != PII_AUDITOR)
        if record.depicted_persons:
            self.likeness_images += 1
            self.depicted.update((record.consent_id, name) for name in record.depicted_persons)
        self.revoked += bool(record.consent_revoked_at)
        self.blobs_missing += record.blob_missing


def _plural(count: int, one: str) -> str:
    return f"{count} {one if count == 1 else one + 's'}"


def _between(earliest: str, latest: str) -> str:
    return f"at {earliest}" if earliest == latest else f"between {earliest} and {latest}"


def _by_status(found: Counter[tuple[str, str]]) -> list[str]:
    """'code: N findings, N dismissed by a reviewer, …' per code, codes in order."""
    handled = {
        "dismissed": "dismissed by a reviewer",
        "confirmed": "confirmed by a reviewer",
        "open": "still open",
        "superseded": "replaced by a newer auditor version's re-audit",
        "informational": "informational (covered by a consent)",
    }
    lines = []
    for code in sorted({code for code, _ in found}):
        statuses = sorted((status, n) for (c, status), n in found.items() if c == code)
        total = sum(n for _, n in statuses)
        parts = ", ".join(f"{n} {handled.get(status, status)}" for status, n in statuses)
        lines.append(f"{code}: {_plural(total, 'finding')}, {parts}")
    return lines


def _tainted_text(report: SnapshotReport) -> str:
    lapses = "; ".join(
        f"consent {lapse.consent_id} {lapse.kind} at {lapse.at} by {lapse.actor}: {lapse.reason}" for lapse in report.lapses
    )
    because = lapses or report.status_reason
    return f"TAINTED since {report.status_changed_at}: {because}. Do not train on this snapshot."


# -- the document --------------------------------------------------------------------------------
def _licences(counts: _Counts) -> list[Any]:
    licences: list[Any] = [
        f"https://spdx.org/licenses/{spdx}.html" if " " not in spdx else spdx for spdx in sorted(counts.licences)
    ]
    if counts.unlicensed:
        licences.append(
            {
                "@type": "sc:CreativeWork",
                "name": "Contributor consent",
                "description": (
                    f"{_plural(counts.unlicensed, 'image')} without a third-party licence, each used under its "
                    f"contributor's consent record (terms {', '.join(sorted(counts.terms_versions))}), "
                    "named per record by consent_id and consent_digest."
                ),
            }
        )
    return licences


def _consented_everywhere(counts: _Counts) -> str:
    return ", ".join(sorted(counts.consented_everywhere or ())) or "none"


RAI_FIELDS = (
    "rai:dataCollection",
    "rai:personalSensitiveInformation",
    "rai:machineAnnotationTools",
    "rai:dataUseCases",
    "rai:dataLimitations",
    "rai:dataReleaseMaintenancePlan",
)


def _rai(report: SnapshotReport, counts: _Counts, exclusions: Counter[str]) -> dict[str, Any]:
    collection = (
        f"{_plural(counts.members, 'image')} supplied by {_plural(len(counts.contributors), 'contributor')} under "
        f"{_plural(len(counts.consents), 'consent record')} (terms {', '.join(sorted(counts.terms_versions))}), "
        f"granted {_between(counts.earliest_grant, counts.latest_grant)}. "
        "Each image is stored as uploaded and named by the SHA-256 of its bytes; "
        "each consent is a signed form kept with its SHA-256 (evidence_sha256 per record)."
    )
    if counts.licences:
        collection += (
            f" {_plural(sum(counts.licences.values()), 'image')} came from licensed sources"
            f" ({', '.join(sorted(counts.licensors)) or 'licensor not named'})."
        )
    personal = []
    if counts.pii_audited:
        personal.append(
            f"The PII auditor examined {counts.pii_audited} of {_plural(counts.members, 'image')} "
            f"and flagged {_plural(counts.pii_images, 'image')}; each finding and its resolution is in the record's findings."
        )
        personal += [f"PII auditor: {line}" for line in _by_status(counts.pii_findings)]
    else:
        personal.append(f"The PII auditor did not examine any of the {_plural(counts.members, 'image')}.")
    if counts.likeness_images:
        personal.append(
            f"Likeness: {_plural(counts.likeness_images, 'image')} under consents naming "
            f"{_plural(len(counts.depicted), 'depicted person')}, each with a signed likeness release "
            "(depicted_persons per record)."
        )
    named = "its contributor (contributor)" + (" and the people depicted (depicted_persons)" if counts.depicted else "")
    personal.append(f"Each record names {named}.")
    limitations = [
        f"{_plural(report.exclusion_count, 'image')} of the dataset left out of the snapshot"
        + (": " + ", ".join(f"{reason} {n}" for reason, n in sorted(exclusions.items())) if exclusions else "")
        + "."
    ]
    limitations += [f"Other auditors' findings: {line}" for line in _by_status(counts.other_findings)]
    if counts.blobs_missing:
        limitations.append(f"{_plural(counts.blobs_missing, 'image')} missing from the store (blob_missing per record).")
    if counts.revoked:
        limitations.append(f"{_plural(counts.revoked, 'image')} under a revoked consent (consent_revoked_at per record).")
    if report.tainted:
        limitations.insert(0, _tainted_text(report))
    uses = [f"Consented by every member: {_consented_everywhere(counts)}."]
    uses += [f"{scope}: consented for {_plural(n, 'image')}." for scope, n in sorted(counts.scopes.items())]
    uses.append(f"Snapshot frozen for: {', '.join(report.scopes)}.")
    return {
        "rai:dataCollection": collection,
        "rai:personalSensitiveInformation": personal,
        "rai:machineAnnotationTools": [
            f"{auditor} (ran on {_plural(n, 'image')})" for auditor, n in sorted(counts.auditors.items())
        ],
        "rai:dataUseCases": uses,
        "rai:dataLimitations": limitations,
        "rai:dataReleaseMaintenancePlan": (
            f"The snapshot is frozen (Merkle root {report.merkle_root}) and never changes. Status: {report.status_label}. "
            "A consent revoked or expired, or an image erased, taints every snapshot that holds it."
        ),
    }


def _description(report: SnapshotReport) -> str:
    text = (
        f"Snapshot {report.snapshot_id} of the Cleanroom dataset {report.dataset}: {_plural(report.member_count, 'image')}, "
        f"every one with a recorded consent, frozen by {report.created_by} at {report.created_at} under Merkle root "
        f"{report.merkle_root} ({report.tree}; leaves: {report.leaf_definition}). Status: {report.status_label}"
    )
    if report.approvals:
        text += f", approved by {', '.join(dict.fromkeys(a.reviewer for a in report.approvals))}"
    text += ". Files are named by SHA-256; contentUrl is the path in a Cleanroom blob store."
    if report.tainted:
        text = f"{_tainted_text(report)} {text}"
    return text


def _file_object(record: MemberRecord) -> dict[str, Any]:
    return {
        "@type": "cr:FileObject",
        "@id": f"file/{record.sha256}",
        "name": f"{record.sha256}.{record.format.lower()}",
        "contentUrl": f"blobs/{blob_name(record.sha256)}",
        "contentSize": f"{record.size} B",
        "encodingFormat": record.mime_type,
        "sha256": record.sha256,
        "prov:wasDerivedFrom": {"@id": f"urn:uuid:{record.consent_id}"},
        "prov:wasAttributedTo": {"@id": f"urn:uuid:{record.contributor_id}"},
        "usageInfo": f"Consented uses: {', '.join(record.consent_scopes)} (consent {record.consent_id}).",
    }


def _record(record: MemberRecord) -> dict[str, Any]:
    return {f"{RECORD_SET}/{f.name}": f.value(record) for f in FIELDS}


def _record_set(data: _Stream) -> dict[str, Any]:
    fields = []
    for f in FIELDS:
        entry: dict[str, Any] = {
            "@type": "cr:Field",
            "@id": f"{RECORD_SET}/{f.name}",
            "name": f.name,
            "description": f.description,
            "dataType": f.data_type,
        }
        if f.is_array:
            entry |= {"isArray": True, "arrayShape": "-1"}
        fields.append(entry)
    return {
        "@type": "cr:RecordSet",
        "@id": RECORD_SET,
        "name": RECORD_SET,
        "description": "One record per member of the snapshot, in leaf order, with its consent and audit outcome.",
        "key": {"@id": f"{RECORD_SET}/sha256"},
        "field": fields,
        "data": data,
    }


# -- writing: one pass over the members, in the document's (sorted) key order --------------------
@dataclass(frozen=True)
class _Stream:
    """A JSON array written item by item from an iterator, never held whole; items that are
    `_Encoded` are written as they are."""

    items: Iterable[Any]


@dataclass(frozen=True)
class _Encoded:
    json: str


@dataclass(frozen=True)
class _Later:
    """A value known only once the members before it in the document have been written."""

    value: Callable[[], Any]


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _write(value: Any, out: IO[str]) -> None:
    if isinstance(value, _Later):
        _write(value.value(), out)
    elif isinstance(value, _Encoded):
        out.write(value.json)
    elif isinstance(value, _Stream):
        out.write("[")
        for position, item in enumerate(value.items):
            out.write(",\n" if position else "\n")
            _write(item, out)
        out.write("\n]")
    elif isinstance(value, dict):
        out.write("{")
        for position, key in enumerate(sorted(value)):
            out.write(",\n" if position else "\n")
            out.write(f"{_dump(key)}:")
            _write(value[key], out)
        out.write("\n}")
    elif isinstance(value, list) and any(isinstance(item, (dict, _Stream, _Later)) for item in value):
        out.write("[")
        for position, item in enumerate(value):
            out.write(",\n" if position else "\n")
            _write(item, out)
        out.write("\n]")
    else:
        out.write(_dump(value))


class _MemberPass:
    """The one pass over the members. Keys are sorted, so `distribution` (the FileObjects) comes
    before the fields that count the members (`license`, `rai:…`, `usageInfo`) and before
    `recordSet`: while the FileObjects are written, the members are counted and their records
    spooled to a temporary file, which the RecordSet copies later."""

    def __init__(self, snapshot: Snapshot, spool: IO[str], progress: Progress) -> None:
        self.snapshot, self.spool, self.progress = snapshot, spool, progress
        self._counts = _Counts()
        self._finished = False

    def file_objects(self) -> Iterator[dict[str, Any]]:
        total = self.snapshot.asset_count
        for done, record in enumerate(member_records(self.snapshot), start=1):
            self._counts.add(record)
            self.spool.write(_dump(_record(record)) + "\n")
            yield _file_object(record)
            if done % CHUNK == 0:
                self.progress(done, total)
        self.progress(total, total)
        self._finished = True

    def records(self) -> Iterator[_Encoded]:
        self.spool.seek(0)
        for line in self.spool:
            yield _Encoded(line.rstrip("\n"))

    @property
    def counts(self) -> _Counts:
        if not self._finished:
            raise RuntimeError("a counted field was written before the members were")
        return self._counts


def _field_of(fields: Callable[[], dict[str, Any]], key: str) -> Any:
    return fields()[key]


def _document(report: SnapshotReport, members: _MemberPass, excluded: Counter[str]) -> dict[str, Any]:
    rai = functools.cache(lambda: _rai(report, members.counts, excluded))
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": [CROISSANT_1_1, RAI_1_0],
        "name": f"{report.dataset} snapshot {report.snapshot_id}",
        "alternateName": report.dataset_name or report.dataset,
        "identifier": f"urn:uuid:{report.snapshot_id}",
        "description": _description(report),
        "citeAs": f"Cleanroom dataset {report.dataset}, snapshot {report.snapshot_id}, Merkle root {report.merkle_root}.",
        "version": SNAPSHOT_VERSION,
        "dateCreated": report.created_at,
        "datePublished": report.approved_at or report.created_at,
        "dateModified": report.status_changed_at,
        "creativeWorkStatus": report.status_label,
        "distribution": _Stream(members.file_objects()),
        "license": _Later(lambda: _licences(members.counts)),
        "usageInfo": _Later(lambda: f"Consented by every member: {_consented_everywhere(members.counts)}."),
        "encodingFormat": _Later(lambda: sorted(members.counts.formats)),
        **{key: _Later(functools.partial(_field_of, rai, key)) for key in RAI_FIELDS},
        "recordSet": [_record_set(_Stream(members.records()))],
    }


def croissant_write(snapshot_id: str, handle: IO[bytes], progress: Progress) -> dict[str, Any]:
    """The `croissant` export format (provenance.exports.formats): the snapshot as Croissant 1.1 +
    RAI 1.0 JSON-LD, UTF-8, to `handle`."""
    snapshot = snapshot_get(snapshot_id=snapshot_id)
    report = snapshot_report(snapshot)
    excluded = Counter(exclusion.reason for exclusion in exclusion_records(snapshot))
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n") as spool:
        members = _MemberPass(snapshot, spool, progress)
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="\n", write_through=False)
        try:
            _write(_document(report, members, excluded), text)
            text.write("\n")
            text.flush()
        finally:
            text.detach()  # the caller owns `handle`
    missing = members.counts.blobs_missing
    if not missing:
        return {}
    return {
        "warnings": [f"{missing} member image(s) missing from the blob store; their records are exported (blob_missing)"],
        "missing_blobs": missing,
    }
