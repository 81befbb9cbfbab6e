"""The public summary of a model's training content (`export --model ID --format eu-summary`), in
the sections of the AI Office's template (AI Act Art. 53(1)(d), July 2025): 1 general
information, 2 the data sources by kind, 3 how text-and-data-mining opt-outs were respected and
illegal or unsafe content removed.

The template is a form for people, so the export is Markdown (the form's sections, headings and
tables, readable as text or rendered), ending with the same figures as one JSON block, so a
machine reads the very numbers a person reads. Every figure is counted from records: the model's
snapshot members (`member_records`, the rows of the snapshot's CSV export), the snapshot's
exclusions, and the files refused at ingest into its dataset before it was frozen; the document
says where each comes from, and says what it cannot fill (the provider's identity, the base
model's own training data unless its registration declares it).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

from provenance.exports.formats import Progress
from provenance.exports.records import CHUNK, exclusion_records, member_records, snapshot_report
from provenance.ingest.refusals import RefusalReason
from provenance.models import IngestItem, Snapshot
from training.models import ModelArtifact
from training.selectors import model_get

TEMPLATE = (
    "European Commission (AI Office), Template for the public summary of training content for general-purpose AI models "
    "(AI Act Article 53(1)(d)), July 2025"
)
SUMMARY_FORMAT = "cleanroom-eu-training-summary-v1"
# The opt-out signals ingest checks (provenance/ingest/optout.py), and how a refusal's detail names each.
OPTOUT_SIGNALS = (
    ("C2PA / CAWG training-and-data-mining assertion (ai_training or ai_generative_training not allowed)", "C2PA"),
    ("IPTC PLUS Data Mining (plus:DataMining prohibited)", "plus:DataMining"),
    ("W3C TDM Reservation Protocol (tdm:reservation = 1)", "TDM-Rep"),
    ("the organisation's do-not-train list (file SHA-256s and source URLs)", ""),
)


def _size_range(images: int) -> str:
    """The template's ranges for images."""
    if images < 1_000_000:
        return "Less than 1 million images"
    if images <= 1_000_000_000:
        return "1 million to 1 billion images"
    return "More than 1 billion images"


def _signal(detail: str) -> str:
    for name, marker in OPTOUT_SIGNALS:
        if marker and marker in detail:
            return name
    return OPTOUT_SIGNALS[-1][0]


@dataclass
class _Tally:
    members: int = 0
    bytes: int = 0
    mime_types: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    smallest: tuple[int, int] | None = None
    largest: tuple[int, int] | None = None
    licensed: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    direct: int = 0
    unconsented: int = 0
    contributors: set[str] = field(default_factory=set)
    consents: set[str] = field(default_factory=set)
    likeness: int = 0
    latest_grant: str = ""
    audited: Counter[tuple[str, str]] = field(default_factory=Counter)
    findings: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, record) -> None:
        self.members += 1
        self.bytes += record.size
        self.mime_types[record.mime_type] += 1
        self.formats[record.format] += 1
        pixels = (record.width, record.height)
        if self.smallest is None or pixels[0] * pixels[1] < self.smallest[0] * self.smallest[1]:
            self.smallest = pixels
        if self.largest is None or pixels[0] * pixels[1] > self.largest[0] * self.largest[1]:
            self.largest = pixels
        if record.licensor or record.licence_spdx:
            self.licensed[(record.licensor, record.licence_spdx, record.source_collection or record.source_url)] += 1
        else:
            self.direct += 1
        self.contributors.add(record.contributor_id)
        self.consents.add(record.consent_id)
        self.unconsented += not record.consent_id
        self.likeness += bool(record.depicted_persons)
        self.latest_grant = max(self.latest_grant, record.granted_at)
        for run in record.audit.runs:
            self.audited[(run.auditor, run.version)] += 1
        for finding in record.audit.findings:
            self.findings[(finding.auditor, finding.code, finding.status)] += 1


def _optout_refusals(snapshot: Snapshot) -> tuple[Counter[str], int]:
    """Files refused for an opt-out at ingest into the snapshot's dataset before it was frozen,
    by signal; and how many ingest batches that covers."""
    refused = IngestItem.objects.filter(
        batch__dataset=snapshot.dataset, batch__created_at__lte=snapshot.created_at, reason=RefusalReason.OPTOUT, accepted=False
    )
    by_signal: Counter[str] = Counter()
    for detail in refused.values_list("detail", flat=True).iterator(chunk_size=CHUNK):
        by_signal[_signal(detail)] += 1
    batches = IngestItem.objects.filter(batch__dataset=snapshot.dataset, batch__created_at__lte=snapshot.created_at)
    return by_signal, batches.values("batch").distinct().count()


def eu_summary(artifact: ModelArtifact, progress: Progress) -> dict[str, Any]:
    snapshot = Snapshot.objects.select_related("dataset", "created_by").get(pk=artifact.snapshot_id)
    report = snapshot_report(snapshot)
    base = artifact.base_model
    tally = _Tally()
    for done, record in enumerate(member_records(snapshot), start=1):
        tally.add(record)
        if done % CHUNK == 0:
            progress(done, snapshot.asset_count)
    excluded = Counter(exclusion.reason for exclusion in exclusion_records(snapshot))
    optouts, batches = _optout_refusals(snapshot)
    snapshot_ref = f"snapshot {report.snapshot_id} (Merkle root {report.merkle_root})"
    return {
        "format": SUMMARY_FORMAT,
        "template": TEMPLATE,
        "status": "TAINTED" if report.tainted else report.status,
        "tainted_by": [
            {"consent_id": lapse.consent_id, "kind": lapse.kind, "at": lapse.at, "reason": lapse.reason}
            for lapse in report.lapses
        ],
        "general_information": {
            "provider": None,
            "model": {
                "id": str(artifact.pk),
                "kind": "LoRA adapter",
                "sha256": artifact.sha256,
                "created_at": artifact.created_at.isoformat(),
                "base_model": {"name": base.name, "licence": base.licence, "sha256": base.sha256},
            },
            "modalities": [
                {
                    "modality": "Image",
                    "files": tally.members,
                    "size_range": _size_range(tally.members),
                    "bytes": tally.bytes,
                    "content_types": dict(sorted(tally.mime_types.items())),
                    "formats": dict(sorted(tally.formats.items())),
                    "smallest_pixels": list(tally.smallest) if tally.smallest else None,
                    "largest_pixels": list(tally.largest) if tally.largest else None,
                    "files_depicting_consenting_persons": tally.likeness,
                }
            ],
            "latest_consent_granted": tally.latest_grant,
            "snapshot_frozen_at": report.created_at,
            "snapshots": [{"id": report.snapshot_id, "dataset": report.dataset, "merkle_root": report.merkle_root}],
            "counted_from": f"the {tally.members} members of {snapshot_ref}",
        },
        "data_sources": {
            "publicly_available_datasets": [],
            "licensed_from_third_parties": [
                {"licensor": licensor, "licence": licence, "collection": collection, "files": count}
                for (licensor, licence, collection), count in sorted(tally.licensed.items())
            ],
            "crawled_or_scraped": [],
            "user_data": [],
            "synthetic_data": [],
            "contributed_under_consent": {
                "files": tally.direct,
                "contributors": len(tally.contributors),
                "consent_records": len(tally.consents),
            },
            "every_file_consented": tally.unconsented == 0,
            "scopes_required": list(report.scopes),
            "counted_from": f"the source and consent of each member of {snapshot_ref}",
        },
        "data_processing": {
            "opt_outs": {
                "signals_checked": [name for name, _ in OPTOUT_SIGNALS],
                "files_refused": sum(optouts.values()),
                "files_refused_by_signal": dict(sorted(optouts.items())),
                "ingest_batches": batches,
                "counted_from": f"the files refused with reason 'optout' at ingest into dataset {report.dataset} "
                f"before {report.created_at}",
            },
            "illegal_and_unsafe_content": {
                "auditors": [
                    {"auditor": auditor, "version": version, "files_audited": count}
                    for (auditor, version), count in sorted(tally.audited.items())
                ],
                "findings": [
                    {"auditor": auditor, "code": code, "resolution": status, "files": count}
                    for (auditor, code, status), count in sorted(tally.findings.items())
                ],
                "left_out_of_the_snapshot": dict(sorted(excluded.items())),
                "counted_from": f"the audit outcomes of each member and the exclusions of {snapshot_ref}",
            },
        },
        "not_filled": {
            "provider": "The provider's name, contact and the date the model was placed on the market are not "
            "recorded in Cleanroom: the provider fills them in.",
            "base_model_training_data": (
                f"The base model {base.name}'s own training data is not covered by this summary. Its registration declares: "
                f"“{base.declared_provenance.strip()}”."
                if base.declared_provenance.strip()
                else f"The base model {base.name}'s own training data is not covered by this summary: "
                "its registration declares nothing about it. Ask its publisher for their own summary."
            ),
        },
    }


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def _pixels(smallest: list[int] | None, largest: list[int] | None) -> str:
    if not smallest or not largest:
        return ""
    return f"{smallest[0]}×{smallest[1]} to {largest[0]}×{largest[1]}"


def eu_summary_markdown(summary: dict[str, Any]) -> str:
    general, sources, processing = summary["general_information"], summary["data_sources"], summary["data_processing"]
    model, (image,) = general["model"], general["modalities"]
    optouts, unsafe = processing["opt_outs"], processing["illegal_and_unsafe_content"]
    lines = [f"# Public summary of training content: model {model['id']}", "", f"Template: {summary['template']}.", ""]
    if summary["status"] == "TAINTED":
        lines += ["**TAINTED.** A consent covering its training data was withdrawn or has expired since training:", ""]
        lines += [f"- consent {t['consent_id']}: {t['kind']} on {t['at']}: {t['reason']}" for t in summary["tainted_by"]]
        lines += ["", "The model may not be used any more.", ""]
    lines += [
        "## 1. General information",
        "",
        "### 1.1 Provider and model",
        "",
        f"- Provider: *not filled*. {summary['not_filled']['provider']}",
        f"- Model: {model['kind']} {model['id']} (SHA-256 {model['sha256']}), trained on {model['created_at']}.",
        f"- Base model: {model['base_model']['name']}, licence {model['base_model']['licence']} "
        f"(SHA-256 {model['base_model']['sha256']}). {summary['not_filled']['base_model_training_data']}",
        "",
        "### 1.2 Modalities, size and types of content",
        "",
        *_table(
            ["Modality", "Training data size", "Files", "Bytes", "Types of content", "Pixel sizes"],
            [
                [
                    image["modality"],
                    image["size_range"],
                    image["files"],
                    image["bytes"],
                    ", ".join(f"{kind}: {count}" for kind, count in image["content_types"].items()),
                    _pixels(image["smallest_pixels"], image["largest_pixels"]),
                ]
            ],
        ),
        "",
        f"{image['files_depicting_consenting_persons']} file(s) depict persons who consented to the use of their likeness.",
        f"Latest consent granted: {general['latest_consent_granted'] or 'none'}; the training data was frozen on "
        f"{general['snapshot_frozen_at']}.",
        "",
        f"Counted from {general['counted_from']}.",
        "",
        "## 2. List of data sources",
        "",
        "Every file was licensed or contributed under a signed consent that covers "
        f"{', '.join(sources['scopes_required']) or 'the uses required'}; nothing was crawled or scraped.",
        "",
        "### 2.1 Publicly available datasets",
        "",
        "None.",
        "",
        "### 2.2 Private datasets licensed from third parties",
        "",
    ]
    licensed = sources["licensed_from_third_parties"]
    if licensed:
        lines += _table(
            ["Licensor", "Licence", "Collection", "Files"],
            [[s["licensor"], s["licence"], s["collection"], s["files"]] for s in licensed],
        )
    else:
        lines.append("None.")
    direct = sources["contributed_under_consent"]
    lines += [
        "",
        "### 2.3 Data crawled and scraped from online sources",
        "",
        "None.",
        "",
        "### 2.4 User data",
        "",
        "None.",
        "",
        "### 2.5 Synthetic data",
        "",
        "None.",
        "",
        "### 2.6 Other sources: contributed by the rights holders",
        "",
        f"{direct['files']} file(s) contributed directly; {direct['contributors']} contributor(s) and "
        f"{direct['consent_records']} consent record(s) cover all files.",
        "",
        f"Counted from {sources['counted_from']}.",
        "",
        "## 3. Data processing",
        "",
        "### 3.1 Respect of reservations of rights (text-and-data-mining opt-outs)",
        "",
        f"Every file was checked at ingest for these signals; {optouts['files_refused']} file(s) carrying one were refused "
        f"in {optouts['ingest_batches']} ingest batch(es):",
        "",
        *_table(
            ["Signal", "Files refused"],
            [[name, optouts["files_refused_by_signal"].get(name, 0)] for name in optouts["signals_checked"]],
        ),
        "",
        f"Counted from {optouts['counted_from']}.",
        "",
        "### 3.2 Removal of illegal and unsafe content",
        "",
    ]
    if unsafe["auditors"]:
        lines += _table(
            ["Auditor", "Version", "Files audited"],
            [[a["auditor"], a["version"], a["files_audited"]] for a in unsafe["auditors"]],
        )
    else:
        lines.append("No automated audit is recorded for these files.")
    lines += ["", "Findings and how a reviewer resolved each:", ""]
    if unsafe["findings"]:
        lines += _table(
            ["Auditor", "Finding", "Resolution", "Files"],
            [[f["auditor"], f["code"], f["resolution"], f["files"]] for f in unsafe["findings"]],
        )
    else:
        lines.append("None.")
    lines += ["", "Files left out of the training data, by reason:", ""]
    left_out = unsafe["left_out_of_the_snapshot"]
    lines += _table(["Reason", "Files"], [[reason, count] for reason, count in left_out.items()]) if left_out else ["None."]
    lines += [
        "",
        f"Counted from {unsafe['counted_from']}.",
        "",
        "## What this summary cannot fill",
        "",
        *[f"- {text}" for text in summary["not_filled"].values()],
        "",
        "## The same figures as data",
        "",
        "```json",
        json.dumps(summary, sort_keys=True, indent=1, ensure_ascii=False),
        "```",
        "",
    ]
    return "\n".join(lines)


def eu_summary_write(model_id: str, handle: IO[bytes], progress: Progress) -> dict[str, Any]:
    """The `eu-summary` model format (provenance.exports.formats)."""
    artifact = model_get(model_id=model_id)
    summary = eu_summary(artifact, progress)
    handle.write(eu_summary_markdown(summary).encode("utf-8"))
    progress(summary["general_information"]["modalities"][0]["files"], summary["general_information"]["modalities"][0]["files"])
    return {}
