"""Counting a detector's outcomes against labels written by the set builder.

A `Tally` counts true/false positives and negatives for one thing measured (an auditor, an
entity type, a transformation); a `Figure` is one published number with its target, printed as
a BENCH line. Rates with nothing to divide by are None, never a flattering 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Tally:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    true_negatives: int = 0

    def add(self, *, expected: bool, found: bool) -> None:
        if expected and found:
            self.true_positives += 1
        elif expected:
            self.false_negatives += 1
        elif found:
            self.false_positives += 1
        else:
            self.true_negatives += 1

    @property
    def positives(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def negatives(self) -> int:
        return self.false_positives + self.true_negatives

    @property
    def precision(self) -> float | None:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.positives if self.positives else None

    @property
    def false_positive_rate(self) -> float | None:
        return self.false_positives / self.negatives if self.negatives else None


@dataclass(frozen=True)
class Figure:
    """One measured number: `BENCH <name> <value> <unit> target <op> <target>`."""

    name: str
    value: float
    unit: str
    op: str = ">="
    target: float = 0.0

    @property
    def met(self) -> bool:
        return {
            ">=": self.value >= self.target,
            "<=": self.value <= self.target,
            ">": self.value > self.target,
            "<": self.value < self.target,
        }[self.op]

    def bench_line(self) -> str:
        return f"BENCH {self.name} {self.value:.3f} {self.unit} target {self.op} {self.target:g}"


@dataclass
class Measurement:
    """An auditor's measurement: a human-readable table and the figures it publishes."""

    auditor: str
    headers: list[str]
    rows: list[list[object]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def ratio(value: float | None) -> float:
    """A rate for a BENCH line: None (nothing measured) prints as -1 so it can never pass a >= target."""
    return -1.0 if value is None else value
