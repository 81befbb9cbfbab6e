"""The one result type every PII detector returns, and how matched values are masked."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

Box = tuple[int, int, int, int]  # left, top, width, height in pixels


@dataclass(frozen=True)
class PiiHit:
    """One piece of personal data: what it is, where it is, and how sure the detector is.

    `text` is always masked: findings are shown to reviewers and stored, and must not become a
    second copy of the personal data they point at. `start`/`end` index the analysed text
    (the field's value, or the OCR text for pixels); `box` is set for hits found in pixels.
    """

    entity_type: str
    start: int
    end: int
    score: float
    text: str
    field: str
    box: Box | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["box"] = list(self.box) if self.box is not None else None
        return data


_WORD_CHARACTER = re.compile(r"\w", re.UNICODE)


def mask(entity_type: str, value: str) -> str:
    """Enough of the value for a reviewer to recognise it, not enough to reuse it."""
    if entity_type == "EMAIL_ADDRESS" and "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if entity_type in ("PERSON", "LOCATION"):
        return " ".join(f"{word[:1]}***" for word in value.split())
    return _mask_middle(value, keep_start=1 if len(value) > 6 else 0, keep_end=2 if len(value) > 6 else 0)


def _mask_middle(value: str, *, keep_start: int, keep_end: int) -> str:
    # Separators stay so the shape ("***-***-**67") still tells a reviewer what was found.
    middle = value[keep_start : len(value) - keep_end]
    return value[:keep_start] + _WORD_CHARACTER.sub("*", middle) + value[len(value) - keep_end :]
