"""The contributor terms, one Markdown text per version (`<version>.md` beside this file).

A consent records the version it was given under; the text of every version stays here, so the
portal can show (and hand out) exactly what a contributor agreed to. A new version is a new file
and a new `CURRENT`; an old file is never edited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.exceptions import NotFound

TERMS_DIR = Path(__file__).resolve().parent
CURRENT = "2026-01"
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")


@dataclass(frozen=True)
class Terms:
    version: str
    text: str


def terms_get(version: str) -> Terms:
    """The terms of `version`; NotFound when no text of that version is kept here."""
    path = TERMS_DIR / f"{version}.md"
    if not _VERSION.match(version) or not path.is_file():
        raise NotFound(f"no terms text of version {version!r}", code="unknown_terms")
    return Terms(version=version, text=path.read_text(encoding="utf-8"))


def terms_current() -> Terms:
    return terms_get(CURRENT)
