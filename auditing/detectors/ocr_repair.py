"""OCR misreads inside one identifier, repaired only where the identifier's own check then passes.

Tesseract misreads long single tokens (an address, a card or account number, an IPv6 address)
in two ways that cost the text rules the whole match: it splits the token at a wide letter gap
("4032829048721 167", "noor @studio.example.co.uk", "2001:db8:b0a4: :3ec5") and it swaps one
character for a look-alike ("NLO6…" for "NL06…", "…:1173:led" for "…:1173:1ed", "©" for "@").
A repair joins a few neighbouring words of one line, maps look-alikes to what the identifier's
format allows at that place, and is kept only when the result passes the check that makes that
kind of identifier personal data: Luhn for cards, ISO 7064 mod-97 and the country's layout for
IBANs, a parse for IP addresses, address syntax and a public suffix for emails. So a repair can
restore what was written but cannot make a number up: a card number is only joined and letters
in it read as digits (never one digit for another), an IBAN position that may hold a letter or a
digit is left as read, and a decoy that fails its check before the misread fails it after.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from functools import cache

from presidio_analyzer.predefined_recognizers.generic.iban_patterns import regex_per_country

from auditing.detectors.pii_hit import Box
from auditing.detectors.pii_text import has_public_suffix

# An identifier is rarely split into more pieces than this; IPv6 groups are the most.
MAX_JOINED_WORDS = 6
# Words further apart than this (in heights of the taller word) are separate words however they parse.
MAX_JOIN_GAP = 1.0
# Look-alikes Tesseract confuses, by what the place calls for.
AS_DIGIT = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "I": "1",
        "l": "1",
        "i": "1",
        "|": "1",
        "S": "5",
        "s": "5",
        "B": "8",
        "Z": "2",
        "z": "2",
        "G": "6",
    }
)
AS_LETTER = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B", "2": "Z", "6": "G"})
AS_HEX = str.maketrans(
    {"o": "0", "O": "0", "l": "1", "I": "1", "i": "1", "|": "1", "s": "5", "S": "5", "g": "9", "z": "2", "£": "f", "¢": "c"}
)
SEPARATORS = re.compile(r"[\s\-.]")
EMAIL_SYNTAX = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+")
IPV4_SHAPE = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
TRAILING = ".,;:"


def repair_email(token: str) -> str | None:
    """The address `token` was, if it is one once "©"/"®" read as "@", accented letters as plain
    ones and commas in the domain as dots."""
    # "é" for "e" too: Tesseract's English model reads accents into specks on busy backgrounds.
    plain = unicodedata.normalize("NFKD", token.replace("©", "@").replace("®", "@"))
    candidate = "".join(char for char in plain if not unicodedata.combining(char)).rstrip(TRAILING)
    if candidate.count("@") != 1:
        return None
    local, domain = candidate.split("@")
    candidate = f"{local}@{domain.replace(',', '.')}"
    if not EMAIL_SYNTAX.fullmatch(candidate) or not has_public_suffix(candidate.split("@")[1]):
        return None
    return candidate


def repair_card(token: str) -> str | None:
    """The card number `token` was: its digits, with letters read as the digits they look like,
    if 13–19 digits pass Luhn. At most two letters: a word is not a misread number."""
    compact = SEPARATORS.sub("", token.rstrip(TRAILING))
    if sum(not char.isdigit() for char in compact) > 2:
        return None
    digits = compact.translate(AS_DIGIT)
    if not digits.isdigit() or not 13 <= len(digits) <= 19 or not _luhn_valid(digits):
        return None
    return digits


def repair_iban(token: str) -> str | None:
    """The IBAN `token` was, if its country's layout and mod-97 checksum pass once each position
    that must be a letter or a digit is read as one."""
    compact = SEPARATORS.sub("", token.rstrip(TRAILING)).upper()
    country = compact[:2].translate(AS_LETTER)
    layout = iban_layouts().get(country)
    if layout is None or len(compact) != 4 + len(layout):
        return None
    check = compact[2:4].translate(AS_DIGIT)
    bban = "".join(
        char.translate(AS_DIGIT) if kind == "n" else char.translate(AS_LETTER) if kind == "a" else char
        for char, kind in zip(compact[4:], layout, strict=True)
    )
    candidate = country + check + bban
    if not candidate.isalnum() or not check.isdigit() or _iban_remainder(candidate) != 1:
        return None
    return candidate


def repair_ip(token: str) -> str | None:
    """The IPv4 or IPv6 address `token` was, once look-alikes are read as digits (hex digits)."""
    candidate = token.rstrip(".,;")
    if ":" in candidate:
        candidate = candidate.translate(AS_HEX).lower()
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            return None
        return candidate if candidate.count(":") >= 3 else None
    candidate = candidate.replace(",", ".").translate(AS_DIGIT)
    if not IPV4_SHAPE.fullmatch(candidate):
        return None
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:
        return None
    return candidate


REPAIRS: tuple[Callable[[str], str | None], ...] = (repair_email, repair_iban, repair_card, repair_ip)


def repaired_token(token: str) -> str | None:
    """`token` as the first identifier it repairs to, or None when it is none of them."""
    for repair in REPAIRS:
        candidate = repair(token)
        if candidate is not None:
            return candidate
    return None


@cache
def iban_layouts() -> dict[str, str]:
    """Each country's BBAN as a string of "n" (digit), "a" (letter), "c" (either), from Presidio's patterns."""
    kinds = {"[0-9]": "n", "[A-Z]": "a", "[a-zA-Z0-9]": "c"}
    layouts = {}
    for country, pattern in regex_per_country.items():
        bban = pattern.split("[ ]?", 1)[1]  # after the country code and the check digits
        layout = ""
        for kind, count in re.findall(r"(\[[^\]]+\])\[ \]\?\)?(?:\{(\d+)\})?", bban):
            layout += kinds[kind] * int(count or 1)
        layouts[country] = layout
    return layouts


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _iban_remainder(iban: str) -> int:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97


def joinable(left: Box, right: Box) -> bool:
    """Whether two words Tesseract put on one line sit side by side on it, close enough to be
    pieces of one token. Its "line" can hold words from two rows of text that face each other."""
    height = max(left[3], right[3])
    gap = right[0] - (left[0] + left[2])
    shared_rows = min(left[1] + left[3], right[1] + right[3]) - max(left[1], right[1])
    return left[0] < right[0] and gap <= MAX_JOIN_GAP * height and shared_rows >= 0.5 * min(left[3], right[3])
