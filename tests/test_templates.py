"""The pages carry no inline code: the Content-Security-Policy (`script-src 'self'; style-src
'self'`) would block it, so scripts and styles live in static files only. Every template of
the project is read: a `<script>` without `src`, a `<style>` element, a `style=` attribute, an
`on…=` event handler or a `javascript:` URL fails."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_FOLDERS = [ROOT / "templates", *sorted(ROOT.glob("*/templates"))]

INLINE_CODE = {
    "an inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "a <style> element": re.compile(r"<style\b", re.I),
    "a style= attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I | re.S),
    "an on…= event handler": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I | re.S),
    "a javascript: URL": re.compile(r"javascript:", re.I),
}


def inline_code(text: str) -> list[str]:
    return [what for what, pattern in INLINE_CODE.items() if pattern.search(text)]


def test_no_template_holds_inline_script_or_style() -> None:
    offences = [
        f"{path.relative_to(ROOT)}: {', '.join(found)}"
        for folder in TEMPLATE_FOLDERS
        for path in sorted(folder.rglob("*.html"))
        if (found := inline_code(path.read_text(encoding="utf-8")))
    ]

    assert offences == [], "move it to a file under static/:\n" + "\n".join(offences)


def test_the_check_sees_each_kind_of_inline_code() -> None:
    assert inline_code("<script>alert(1)</script>") == ["an inline <script>"]
    assert inline_code('<script defer src="/static/x.js"></script>') == []
    assert inline_code("<style>p{}</style>") == ["a <style> element"]
    assert inline_code('<p class="x"\n   style="color: red">') == ["a style= attribute"]
    assert inline_code('<button type="button" onclick="go()">') == ["an on…= event handler"]
    assert inline_code('<a href="javascript:go()">') == ["a javascript: URL"]
    assert inline_code('<a href="/review/" data-onward="x">Review</a>') == []
