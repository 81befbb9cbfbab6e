"""Reading server-rendered pages in tests that use Django's test client (no browser)."""

from __future__ import annotations

import re

from django.test import Client

_MAIN_NAV = re.compile(r'<nav[^>]*aria-label="Main"[^>]*>(.*?)</nav>', re.S)
_LINK = re.compile(r'<a href="([^"]+)"[^>]*>([^<]+)</a>')


def main_nav(html: str) -> list[tuple[str, str]]:
    """The main navigation's links as (label, path), in page order."""
    found = _MAIN_NAV.search(html)
    assert found, "the page has no main navigation landmark"
    return [(label.strip(), href) for href, label in _LINK.findall(found.group(1))]


def client(user=None) -> Client:
    """Django's test client, signed in as `user` (None: an anonymous visitor)."""
    web = Client()
    if user is not None:
        web.force_login(user)
    return web
