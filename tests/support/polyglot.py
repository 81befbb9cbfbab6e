"""A GIF that is also valid JavaScript: what an attacker uploads hoping a page of ours will one
day load it as a script. Built by hand so the test owns every byte."""

from __future__ import annotations

# The logical screen width's two bytes open a JavaScript comment; a GIF comment extension closes
# it, runs the payload and opens another, which two bytes after the GIF's trailer close. Read as
# JavaScript: `GIF89a/*…*/=1;window.pwned=1;/*…*/`, that is `GIF89a = 1; window.pwned = 1;`.
PAYLOAD = b"*/=1;window.pwned=1;/*"


def polyglot_gif() -> bytes:
    height = 8
    screen = b"/*" + height.to_bytes(2, "little") + bytes([0x80, 0x00, 0x00])  # 2-colour palette
    palette = b"\x00\x00\x00\xff\xff\xff"
    comment = b"\x21\xfe" + bytes([len(PAYLOAD)]) + PAYLOAD + b"\x00"
    frame = b"\x2c" + (0).to_bytes(2, "little") * 2 + (1).to_bytes(2, "little") * 2 + b"\x00" + b"\x02\x02\x44\x01\x00"
    data = b"GIF89a" + screen + palette + comment + frame + b";" + b"*/"
    # Nothing in the binary parts may close a comment early.
    assert data.count(b"*/") == 2, "the binary parts close a comment early"
    return data


def polyglot_as_javascript() -> str:
    """The same bytes as the text a browser would run (each byte one character)."""
    return polyglot_gif().decode("latin-1")
