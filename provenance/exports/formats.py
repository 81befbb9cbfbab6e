"""The registry of export formats: name → writer, for which subject (a snapshot or a model),
whether the snapshot must have passed review, the content type and the file extension.

A format is declared here even before it is built (`writer` empty): the command, the API and
the /reports/ page all list it, and refuse it in words (`format_unavailable`) until a writer
is registered. A new format is one writer module plus one `register_export_format` call — here
for provenance's own formats, or in the AppConfig.ready() of the app that owns the data (the
model formats live in training, which provenance may not import).

A writer is `write(subject_id: str, handle: IO[bytes], progress: Progress) -> dict`: it writes
the whole file to `handle` (the service makes it atomic and hashes it), calls
`progress(done, total)` as it goes, and returns notes for the caller (e.g. `warnings`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import IO, Any, Final, Literal

from django.utils.module_loading import import_string

from core.exceptions import ApplicationError

SNAPSHOT: Final = "snapshot"
MODEL: Final = "model"
Subject = Literal["snapshot", "model"]
Progress = Callable[[int, int | None], None]
Writer = Callable[[str, IO[bytes], Progress], dict[str, Any]]


@dataclass(frozen=True)
class ExportFormat:
    name: str  # as the command line and the API spell it
    label: str  # as a page shows it
    subject: Subject
    content_type: str
    extension: str
    # The snapshot must have passed review (two approvals): approved, or tainted after it was.
    needs_approval: bool = False
    writer: str = ""  # dotted path of a Writer; empty while the format is not built yet

    @property
    def available(self) -> bool:
        return bool(self.writer)

    def load_writer(self) -> Writer:
        return import_string(self.writer)


_FORMATS: dict[tuple[str, str], ExportFormat] = {}


def register_export_format(export_format: ExportFormat) -> None:
    """Declare a format, or give a declared one its writer (the later registration wins)."""
    _FORMATS[(export_format.subject, export_format.name)] = export_format


def export_format_provide(subject: Subject, name: str, writer: str) -> None:
    """Give the declared format `name` its writer (an app's ready() calls it)."""
    register_export_format(replace(_FORMATS[(subject, name)], writer=writer))


def export_formats(subject: Subject) -> list[ExportFormat]:
    """The formats for one kind of subject, in the order they were declared."""
    return [f for (kind, _), f in _FORMATS.items() if kind == subject]


def export_format_names() -> list[str]:
    """Every format name, for either subject: the command line's choices."""
    return list(dict.fromkeys(name for _, name in _FORMATS))


def export_format_get(subject: Subject, name: str) -> ExportFormat:
    found = _FORMATS.get((subject, name))
    if found is None:
        known = ", ".join(f.name for f in export_formats(subject))
        raise ApplicationError(
            f"{name!r} is not an export format for a {subject} (known: {known})", code="unknown_format", status=400
        )
    if not found.available:
        raise ApplicationError(
            f"the {found.label} export of a {subject} is not available yet", code="format_unavailable", status=409
        )
    return found


for _declared in (
    ExportFormat("csv", "CSV", SNAPSHOT, "text/csv; charset=utf-8", "csv", writer="provenance.exports.tabular.csv_write"),
    ExportFormat("json", "JSON", SNAPSHOT, "application/json", "json", writer="provenance.exports.tabular.json_write"),
    ExportFormat("pdf", "PDF", SNAPSHOT, "application/pdf", "pdf", writer="provenance.exports.pdf.snapshot_pdf_write"),
    ExportFormat(
        "croissant",
        "Croissant",
        SNAPSHOT,
        "application/ld+json",
        "jsonld",
        needs_approval=True,
        writer="provenance.exports.croissant.croissant_write",
    ),
    ExportFormat(
        "pack",
        "Compliance pack",
        SNAPSHOT,
        "application/zip",
        "zip",
        needs_approval=True,
        writer="provenance.exports.pack.pack_write",
    ),
    # Model formats: training gives them their writers (training/exports.py).
    ExportFormat("json", "JSON", MODEL, "application/json", "json"),
    ExportFormat("pdf", "PDF", MODEL, "application/pdf", "pdf"),
    # Markdown in the AI Office template's sections, its figures repeated as JSON at the end.
    ExportFormat("eu-summary", "EU training-content summary", MODEL, "text/markdown; charset=utf-8", "md"),
):
    register_export_format(_declared)
