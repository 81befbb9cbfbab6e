"""The one stylesheet stays well-formed: a block left open (a merge of two appended sections can
do it) silently swallows every rule after it, and no browser reports it."""

from __future__ import annotations

import re
from pathlib import Path

STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "css" / "cleanroom.css"


def unclosed_blocks(css: str) -> list[int]:
    """The line numbers of blocks still open at the end (comments and strings ignored)."""
    css = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), css, flags=re.S)
    css = re.sub(r"\"[^\"\n]*\"|'[^'\n]*'", '""', css)
    open_at: list[int] = []
    for number, line in enumerate(css.splitlines(), 1):
        for char in line:
            if char == "{":
                open_at.append(number)
            elif char == "}":
                assert open_at, f"line {number} closes a block that was never opened"
                open_at.pop()
    return open_at


def test_every_block_of_the_stylesheet_is_closed():
    assert unclosed_blocks(STYLESHEET.read_text()) == []


def test_the_check_finds_a_rule_left_open():
    assert unclosed_blocks(".a {\n  color: red;\n\n/* next */\n.b { color: blue; }\n") == [1]
