"""The PDF report's charts: small bar charts drawn by matplotlib as SVG (vector graphics, text
kept as text), returned as data URIs for the report's <img> elements.

Deterministic, so two exports of one snapshot are the same bytes: no date in the SVG metadata,
a fixed hash salt for its element ids, and the bars in a fixed order (largest first, then by
name). matplotlib is imported here, inside the functions' module, which only the PDF writer
imports (a worker or the command line, never the web process).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

matplotlib.rcParams.update(
    {
        "svg.hashsalt": "cleanroom-report",  # fixed element ids
        "svg.fonttype": "none",  # text as text: sharp, searchable, the PDF's own font
        "font.family": "DejaVu Sans",
        "font.size": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)

INK = "#1f2a44"
BAR = "#3b6ea5"
ACCENT = "#c0392b"
# How many bars a chart shows; the rest are summed into one "other" bar.
MAX_BARS = 10


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode("utf-8")).decode("ascii")


def _ranked(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if len(ranked) > MAX_BARS:
        rest = sum(count for _, count in ranked[MAX_BARS - 1 :])
        ranked = [*ranked[: MAX_BARS - 1], (f"{len(ranked) - MAX_BARS + 1} others", rest)]
    return ranked


def bar_chart(counts: Mapping[str, int], *, title: str, unit: str, colour: str = BAR) -> str | None:
    """Horizontal bars, largest on top; None when there is nothing to draw (the page says so)."""
    ranked = _ranked({label or "(none)": count for label, count in counts.items() if count})
    if not ranked:
        return None
    labels = [label if len(label) <= 38 else label[:37] + "…" for label, _ in ranked]
    values = [count for _, count in ranked]
    figure = Figure(figsize=(3.4, 0.45 + 0.28 * len(ranked)))
    axes = figure.add_subplot()
    positions = list(range(len(ranked)))[::-1]
    axes.barh(positions, values, color=colour, height=0.6)
    axes.set_yticks(positions, labels, color=INK)
    axes.set_title(title, loc="left", color=INK, fontsize=9, fontweight="bold")
    axes.set_xlabel(unit, color=INK)
    axes.set_xlim(0, max(values) * 1.18)
    for position, value in zip(positions, values, strict=True):
        axes.text(value, position, f" {value:,}", va="center", color=INK)
    axes.tick_params(axis="x", colors=INK)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _svg(figure)


def stacked_chart(counts: Mapping[tuple[str, str], int], *, title: str, unit: str, colours: Mapping[str, str]) -> str | None:
    """Bars per first key, stacked by second key (e.g. findings per auditor by resolution)."""
    if not counts:
        return None
    groups = sorted({group for group, _ in counts}, key=lambda g: (-sum(v for (k, _), v in counts.items() if k == g), g))
    stacks = [stack for stack in colours if any(s == stack for _, s in counts)]
    figure = Figure(figsize=(3.4, 0.8 + 0.32 * len(groups)))
    axes = figure.add_subplot()
    positions = list(range(len(groups)))[::-1]
    left = [0] * len(groups)
    for stack in stacks:
        widths = [counts.get((group, stack), 0) for group in groups]
        axes.barh(positions, widths, left=left, color=colours[stack], height=0.6, label=stack)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.set_yticks(positions, groups, color=INK)
    axes.set_title(title, loc="left", color=INK, fontsize=9, fontweight="bold")
    axes.set_xlabel(unit, color=INK)
    axes.set_xlim(0, max(left) * 1.18)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    return _svg(figure)


def timeline_chart(counts: Mapping[str, int], *, title: str, unit: str) -> str | None:
    """Columns per period (e.g. "2026-03"), in time order."""
    periods = sorted(period for period, count in counts.items() if count)
    if not periods:
        return None
    values = [counts[period] for period in periods]
    figure = Figure(figsize=(7.0, 1.5))
    axes = figure.add_subplot()
    axes.bar(range(len(periods)), values, color=BAR, width=0.7)
    step = max(1, len(periods) // 12)
    axes.set_xticks(range(0, len(periods), step), periods[::step], color=INK, fontsize=7)
    if len(periods) > 6:
        axes.tick_params(axis="x", labelrotation=45)
    axes.set_title(title, loc="left", color=INK, fontsize=9, fontweight="bold")
    axes.set_ylabel(unit, color=INK)
    axes.set_ylim(0, max(values) * 1.2)
    axes.set_xlim(-0.75, max(len(periods), 12) - 0.25)  # a few months keep slim columns
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    for index, value in enumerate(values):
        axes.text(index, value, f"{value:,}", ha="center", va="bottom", color=INK, fontsize=7)
    return _svg(figure)
