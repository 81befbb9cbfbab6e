"""Reading server-rendered pages in tests that use Django's test client (no browser)."""

from __future__ import annotations

import re

_MAIN_NAV = re.compile(r'<nav[^>]*aria-label="Main"[^>]*>(.*?)</nav>', re.S)
_LINK = re.compile(r'<a href="([^"]+)"[^>]*>([^<]+)</a>')


def main_nav(html: str) -> list[tuple[str, str]]:
    """The main navigation's links as (label, path), in page order."""
    found = _MAIN_NAV.search(html)
    assert found, "the page has no main navigation landmark"
    return [(label.strip(), href) for href, label in _LINK.findall(found.group(1))]
