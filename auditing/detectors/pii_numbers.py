"""Which digit runs that parse as a phone number or pass the Luhn check are really one.

Photo metadata is full of numbers: serial and order numbers, barcodes, bank account numbers.
With many phone regions enabled almost any 9–16 digit run is a valid number somewhere (German
numbers can be 4 to 15 digits long), and one in ten digit runs passes the Luhn check. These
rules look at how the number is written and what surrounds it, the way a reader tells them apart:

- a number glued to letters ("INV-029192183", "SN-0800…") is part of a code;
- a number inside an IBAN-shaped string, valid or not, is part of a bank account number;
- a number right after a label saying what it is ("SN", "Order #", "ISBN") is that thing;
- a phone number written without its +country code must be written the way that country
  groups its numbers, or have a word like "tel" or "call" before it: a bare digit run is a
  phone number only when something says so;
- an ungrouped 13-digit run is an EAN-13 barcode: no card issued today has 13 digits.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

PHONE = "PHONE_NUMBER"
CARD = "CREDIT_CARD"

# ISO 13616's print form: country, check digits, then 11–30 letters and digits, compact or in
# groups of four. Its checksum is not checked here: a mistyped IBAN is still not a phone number.
_IBAN_SHAPE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
# Labels that say a number is an identifier of something other than a person; the number must
# follow right after (a ":" or "#" between), so "tel. 555-0147, order 12" is unaffected. "No." is
# not one: "Tel. No. 555-0147" is common.
_IDENTIFIER_LABEL = re.compile(
    r"(?:\b(?:s/?n|serial(?:\s+(?:no|number))?|order|invoice|inv|isbn|issn|ean|upc|gtin|barcode|ref|reference|"
    r"part|sku|item|lot|batch|ticket|tracking|build)\b\.?|#)\s*[:#]?\s*$",
    re.IGNORECASE,
)
# Words before a national-format phone number that say it is one (English, French, German,
# Spanish, Italian, Dutch, Portuguese).
_PHONE_CONTEXT = re.compile(
    r"\b(?:tel|tél|phone|telephone|téléphone|telefon|teléfono|telefono|telefone|telefoon|call|cell|mobile|mob|"
    r"portable|handy|móvil|cellulare|celular|fax|whatsapp|ph|contact|ring)\b",
    re.IGNORECASE,
)
# The context word must be in the same part of the text: these end a part.
_PART_SEPARATOR = re.compile(r"[,;|·\n]| - ")
_CONTEXT_WINDOW = 40
# A joiner between a code's letters and its digits ("INV-", "SN/"); spaces and dots are not ("tel.0201234567").
_JOINERS = "-/_"


def plausible(entity: str, text: str, start: int, end: int, *, phone_regions: tuple[str, ...]) -> bool:
    """Whether the phone or card number matched at text[start:end] is one (see the module docstring);
    `phone_regions` are those national numbers are parsed for."""
    if entity not in (PHONE, CARD):
        return True
    if _glued_to_a_code(text, start, end) or _inside_an_iban(text, start, end) or _after_an_identifier_label(text, start):
        return False
    if entity == CARD:
        return not _is_a_barcode(text[start:end])
    return (
        _is_international(text[start:end])
        or _grouped_like_its_region(text[start:end], phone_regions)
        or _said_to_be_a_phone(text, start)
    )


def _glued_to_a_code(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 2) : start]
    after = text[end : end + 2]
    return _letter_or_joined_letter(before[::-1]) or _letter_or_joined_letter(after)


def _letter_or_joined_letter(neighbours: str) -> bool:
    # `neighbours` starts at the character touching the number.
    if not neighbours:
        return False
    if neighbours[0].isalpha():
        return True
    return neighbours[0] in _JOINERS and len(neighbours) > 1 and neighbours[1].isalpha()


def _inside_an_iban(text: str, start: int, end: int) -> bool:
    return any(match.start() <= start and end <= match.end() for match in _IBAN_SHAPE.finditer(text))


def _after_an_identifier_label(text: str, start: int) -> bool:
    return bool(_IDENTIFIER_LABEL.search(_same_part_before(text, start)))


def _same_part_before(text: str, start: int) -> str:
    window = text[max(0, start - _CONTEXT_WINDOW) : start]
    parts = _PART_SEPARATOR.split(window)
    return parts[-1]


def _is_international(number: str) -> bool:
    return number.lstrip("(").startswith(("+", "00"))


def _digit_groups(number: str) -> list[str]:
    return re.findall(r"\d+", number)


def _grouped_like_its_region(number: str, regions: tuple[str, ...]) -> bool:
    """Written in groups, and in the groups its country formats it in ("020 7946 0123", not "0207 9460 123")."""
    groups = _digit_groups(number)
    if len(groups) < 2:
        return False
    for region in _regions_where_valid(number, regions):
        formatted = phonenumbers.format_number(phonenumbers.parse(number, region), PhoneNumberFormat.NATIONAL)
        if _digit_groups(formatted) == groups:
            return True
    return False


def _regions_where_valid(number: str, regions: tuple[str, ...]) -> list[str]:
    valid = []
    for region in regions:
        try:
            parsed = phonenumbers.parse(number, region)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number_for_region(parsed, region):
            valid.append(region)
    return valid


def _said_to_be_a_phone(text: str, start: int) -> bool:
    return bool(_PHONE_CONTEXT.search(_same_part_before(text, start)))


def _is_a_barcode(number: str) -> bool:
    return len(number) == 13 and number.isdigit()
