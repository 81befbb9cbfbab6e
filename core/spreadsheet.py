"""Cells a spreadsheet shows as text: the one guard against formula injection in every CSV that
leaves the platform (the decisions CSV, the report exports)."""

from __future__ import annotations

from typing import Any

# A cell starting with one of these runs as a formula in Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(cell: Any) -> Any:
    """A cell a spreadsheet shows as text: a leading apostrophe on one it would run as a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
