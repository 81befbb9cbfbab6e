"""The PDF report of a snapshot, for a lawyer: a cover, an executive summary, charts, a contact
sheet of thumbnails, the per-record table, the opt-out signals honoured at ingest, the review
decisions, the taint status and how to verify the pack. HTML and CSS (templates/exports/) made
into a PDF by WeasyPrint; the charts are matplotlib SVG (vector).

Bounded, so a 100,000-member snapshot exports in bounded memory and time: the members are read
once, in chunks (records.member_records), into counters for the summary and the charts, and
only the first `TABLE_ROWS` become table rows and the first `CONTACT_SHEET` thumbnails. The
report says so and points to the CSV export, which holds every row: a PDF layout engine holds
the whole document in memory, and a 2,000-page table is read by no one.

Reproducible: the dates in the PDF's metadata are the snapshot's own (creation, last change of
status), the file identifier is derived from the snapshot, the producer is WeasyPrint's fixed
version string, and the charts' SVG has fixed ids and no date; two exports of one snapshot are
the same bytes.

WeasyPrint and matplotlib are imported only when a PDF is written (never by the web process).
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db.models import Count
from django.template.loader import render_to_string

from core.storage import derived_exists, derived_open
from provenance.exports.formats import Progress
from provenance.exports.records import (
    ExclusionRecord,
    FindingOutcome,
    MemberRecord,
    SnapshotReport,
    exclusion_records,
    member_records,
    snapshot_report,
)
from provenance.models import IngestItem, ReviewDecision, Snapshot
from provenance.selectors import snapshot_get
from provenance.services.thumbnails import thumbnail_label, thumbnails_derive

# The per-record table and the contact sheet stop here; the CSV export has every row. 200 rows
# are about 20 landscape pages, which WeasyPrint lays out in well under a minute.
TABLE_ROWS = 200
CONTACT_SHEET = 48
EXCLUSIONS_LISTED = 200
FINDINGS_LISTED = 200
THUMBNAIL_SIZE = 256
STYLESHEET = Path(settings.BASE_DIR) / "templates" / "exports" / "report.css"
GENERATOR = "Cleanroom"
REFUSAL_LABELS = {
    "optout": "Opted out of AI training",
    "invalid_image": "Not a readable image",
    "unsupported_type": "Unsupported file type",
    "too_large": "Too large",
    "duplicate": "Already in the platform",
    "no_consent": "No valid consent",
    "unsafe_path": "Unsafe file name",
}
RESOLUTION_COLOURS = {"open": "#c0392b", "confirmed": "#e67e22", "dismissed": "#3b6ea5", "superseded": "#8a8f98"}


@dataclass
class Thumbnail:
    record: MemberRecord
    data_uri: str  # "" when the image is not in the store


@dataclass
class SnapshotDigest:
    """What the whole snapshot's records add up to, read once in chunks."""

    members: int = 0
    licences: Counter[str] = field(default_factory=Counter)
    scopes: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    consents_by_month: Counter[str] = field(default_factory=Counter)
    findings: Counter[tuple[str, str]] = field(default_factory=Counter)
    auditors: Counter[str] = field(default_factory=Counter)
    contributors: set[str] = field(default_factory=set)
    consents: set[str] = field(default_factory=set)
    with_persons: int = 0
    blobs_missing: int = 0
    revoked: int = 0
    total_bytes: int = 0
    rows: list[MemberRecord] = field(default_factory=list)
    thumbnails: list[Thumbnail] = field(default_factory=list)
    resolved: list[tuple[MemberRecord, FindingOutcome]] = field(default_factory=list)
    resolved_count: int = 0

    def see(self, record: MemberRecord, *, table_rows: int, thumbnails: int) -> None:
        self.members += 1
        self.licences[record.licence_spdx or "(no licence recorded)"] += 1
        self.formats[record.format or "(unknown)"] += 1
        for scope in record.consent_scopes:
            self.scopes[scope] += 1
        if record.consent_id not in self.consents:
            self.consents.add(record.consent_id)
            self.consents_by_month[record.granted_at[:7] or "(unknown)"] += 1
        self.contributors.add(record.contributor_id)
        self.with_persons += bool(record.depicted_persons)
        self.blobs_missing += record.blob_missing
        self.revoked += bool(record.consent_revoked_at)
        self.total_bytes += record.size
        for run in record.audit.runs:
            self.auditors[run.auditor] += 1
        for finding in record.audit.findings:
            self.findings[(finding.auditor, finding.status)] += 1
            if finding.resolved_by:
                self.resolved_count += 1
                if len(self.resolved) < FINDINGS_LISTED:
                    self.resolved.append((record, finding))
        if len(self.rows) < table_rows:
            self.rows.append(record)
        if len(self.thumbnails) < thumbnails:
            self.thumbnails.append(Thumbnail(record=record, data_uri=_thumbnail(record)))

    @property
    def findings_total(self) -> int:
        return sum(self.findings.values())

    @property
    def findings_open(self) -> int:
        return sum(count for (_, status), count in self.findings.items() if status == "open")


def _thumbnail(record: MemberRecord) -> str:
    """The worker-made WebP thumbnail as a data URI, derived here when missing (the writer
    runs in a worker or the command line, where decoding is allowed)."""
    if record.blob_missing:
        return ""
    label = thumbnail_label(THUMBNAIL_SIZE)
    if not derived_exists(record.sha256, label):
        thumbnails_derive(asset_id=record.asset_id)
        if not derived_exists(record.sha256, label):
            return ""
    with derived_open(record.sha256, label) as stream:
        return "data:image/webp;base64," + base64.b64encode(stream.read()).decode("ascii")


def snapshot_digest(
    snapshot: Snapshot, *, progress: Progress | None = None, table_rows: int | None = None, thumbnails: int | None = None
) -> SnapshotDigest:
    """Read every member once; keep the first rows and thumbnails (by default `TABLE_ROWS`
    and `CONTACT_SHEET`, read when called)."""
    table_rows = TABLE_ROWS if table_rows is None else table_rows
    thumbnails = CONTACT_SHEET if thumbnails is None else thumbnails
    digest = SnapshotDigest()
    total = snapshot.asset_count
    for record in member_records(snapshot):
        digest.see(record, table_rows=table_rows, thumbnails=thumbnails)
        if progress is not None and digest.members % 1000 == 0:
            progress(digest.members, total)
    return digest


def ingest_refusals(snapshot: Snapshot) -> tuple[Counter[str], list[tuple[str, int]]]:
    """The files refused at ingest into the snapshot's dataset before it was frozen, by reason,
    and the opt-out signals among them (by what was found), largest first."""
    refused = IngestItem.objects.filter(
        batch__dataset=snapshot.dataset, batch__created_at__lte=snapshot.created_at, accepted=False
    )
    by_reason: Counter[str] = Counter()
    for reason, count in refused.values_list("reason").annotate(count=Count("id")).values_list("reason", "count"):
        by_reason[REFUSAL_LABELS.get(reason, reason)] += count
    signals: Counter[str] = Counter(refused.filter(reason="optout").values_list("detail", flat=True).iterator())
    return by_reason, sorted(signals.items(), key=lambda item: (-item[1], item[0]))


def review_decisions(snapshot: Snapshot) -> list[dict[str, str]]:
    """Every decision about the snapshot itself (approvals, rejections), oldest first."""
    return [
        {"reviewer": reviewer, "decision": decision, "at": at.isoformat(), "reason": reason}
        for reviewer, decision, at, reason in ReviewDecision.objects.filter(snapshot=snapshot, subject_type="snapshot")
        .order_by("created_at", "id")
        .values_list("reviewer__username", "decision", "created_at", "reason")
    ]


def summary_charts(digest: SnapshotDigest) -> dict[str, str | None]:
    from provenance.exports import charts

    return {
        "licences": charts.bar_chart(digest.licences, title="Images by licence", unit="images"),
        "scopes": charts.bar_chart(digest.scopes, title="Images by consent scope", unit="images"),
        "findings": charts.stacked_chart(
            digest.findings, title="Audit findings by auditor and resolution", unit="findings", colours=RESOLUTION_COLOURS
        ),
        "consents": charts.timeline_chart(digest.consents_by_month, title="Consents by month granted", unit="consents"),
    }


def _weasyprint() -> Any:
    """WeasyPrint, imported without its side effect: on import it sets Pillow's process-wide
    `ImageFile.LOAD_TRUNCATED_IMAGES`, after which a worker or a command that had once rendered
    a PDF would accept truncated images at ingest and audit them as whole. The flag is put back."""
    from PIL import ImageFile

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    import weasyprint

    ImageFile.LOAD_TRUNCATED_IMAGES = before
    return weasyprint


def pdf_render(template: str, context: dict[str, Any], *, created: str, modified: str, identifier: str) -> bytes:
    """Render an export template to PDF bytes, with metadata that depends only on the record:
    the dates given (the HTML's dcterms metas), a file identifier derived from `identifier`."""
    weasyprint = _weasyprint()
    CSS, HTML = weasyprint.CSS, weasyprint.HTML

    html = render_to_string(template, {**context, "created": created, "modified": modified, "generator": GENERATOR})
    document = HTML(string=html, base_url=str(STYLESHEET.parent))
    return document.write_pdf(
        stylesheets=[CSS(string=STYLESHEET.read_text(encoding="utf-8"))],
        pdf_identifier=hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:32].encode("ascii"),
        uncompressed_pdf=False,
    )


def snapshot_pdf_context(report: SnapshotReport, digest: SnapshotDigest, snapshot: Snapshot) -> dict[str, Any]:
    by_reason, signals = ingest_refusals(snapshot)
    exclusions: list[ExclusionRecord] = []
    for exclusion in exclusion_records(snapshot):
        if len(exclusions) >= EXCLUSIONS_LISTED:
            break
        exclusions.append(exclusion)
    charts = summary_charts(digest)
    from provenance.exports import charts as drawing

    charts["refusals"] = drawing.bar_chart(
        by_reason, title="Files refused at ingest, by reason", unit="files", colour=drawing.ACCENT
    )
    return {
        "report": report,
        "digest": digest,
        "charts": charts,
        "refusals": sorted(by_reason.items(), key=lambda item: (-item[1], item[0])),
        "refused_total": sum(by_reason.values()),
        "optout_signals": signals,
        "optout_total": sum(count for _, count in signals),
        "exclusions": exclusions,
        "decisions": review_decisions(snapshot),
        "table_capped": digest.members > len(digest.rows),
        "sheet_capped": digest.members > len(digest.thumbnails),
        "thumbnails_missing": sum(1 for thumbnail in digest.thumbnails if not thumbnail.data_uri),
        "approvers": list(dict.fromkeys(approval.reviewer for approval in report.approvals)),
    }


def snapshot_pdf_write(snapshot_id: str, handle: IO[bytes], progress: Progress) -> dict[str, Any]:
    snapshot = snapshot_get(snapshot_id=snapshot_id)
    report = snapshot_report(snapshot)
    digest = snapshot_digest(snapshot, progress=progress)
    context = snapshot_pdf_context(report, digest, snapshot)
    handle.write(
        pdf_render(
            "exports/snapshot_report.html",
            context,
            created=report.created_at,
            modified=report.status_changed_at or report.created_at,
            identifier=f"snapshot:{report.snapshot_id}:{report.merkle_root}:{report.status}",
        )
    )
    progress(digest.members, digest.members)
    warnings = []
    if digest.blobs_missing:
        warnings.append(f"{digest.blobs_missing} member image(s) are missing from the blob store; the records are exported")
    return {"warnings": warnings}
