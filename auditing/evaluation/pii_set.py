"""The PII auditor's labelled set: planted personal data and hard negatives, built with a fixed seed.

Every value is generated here and its label is what was planted: card numbers get a Luhn check
digit computed here, IBANs an ISO 7064 mod-97 checksum computed here, and the decoys are made
to *look* like personal data while failing exactly the rule that makes it personal data (a
card number with a wrong check digit, an IBAN with a wrong checksum) or being another kind of
number a photo's metadata is full of (versions, dates, ISBNs, order numbers, prices, file names).

Four parts, one per detector:
- text: one metadata text field (EXIF, XMP, IPTC), caption or file name per sample, with the
  spans of the planted entities;
- pixels: the same kinds of values rendered with Pillow (varied fonts, sizes, small rotations,
  plain / gradient / photo backgrounds), with the box each line was drawn in;
- gps: JPEG bytes with or without EXIF GPS coordinates;
- faces: scikit-image's photos of people (and flips, crops, resizes) against photos, textures
  and drawings without any.
- face scenes: the same faces scaled to 40-160 px and pasted into 1500-2500 px scenes (one
  face, or a group of 3-6), each with the box it was pasted to, and faceless scenes.
Nothing is downloaded: photos and faces ship in scikit-image, fonts with Debian's DejaVu and
matplotlib.
"""

from __future__ import annotations

import io
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SEED = 14

EMAIL = "EMAIL_ADDRESS"
PHONE = "PHONE_NUMBER"
CARD = "CREDIT_CARD"
IBAN = "IBAN_CODE"
IP = "IP_ADDRESS"
PERSON = "PERSON"
TEXT_ENTITIES = (EMAIL, PHONE, CARD, IBAN, IP, PERSON)

Box = tuple[int, int, int, int]  # left, top, width, height


@dataclass(frozen=True)
class Planted:
    entity: str
    value: str
    start: int  # offsets in the sample's text
    end: int


@dataclass(frozen=True)
class TextSample:
    field: str  # as the detector names it: "caption", "exif:Artist", "xmp:dc:creator", "file_name"
    text: str
    planted: tuple[Planted, ...]
    decoys: tuple[str, ...]  # the hard negatives written into the text, for the record


@dataclass(frozen=True)
class DrawnLine:
    entity: str | None  # None for a rendered negative
    text: str
    box: Box


@dataclass(frozen=True)
class PixelSample:
    name: str
    image: Image.Image
    lines: tuple[DrawnLine, ...]


@dataclass(frozen=True)
class GpsSample:
    name: str
    jpeg: bytes
    coordinates: tuple[float, float] | None


@dataclass(frozen=True)
class FaceSample:
    name: str
    image: Image.Image
    has_face: bool


# --- values ----------------------------------------------------------------------------------


def luhn_check_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # doubled: the check digit will sit to the right of this one
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = "".join(char for char in number if char.isdigit())
    return len(digits) > 1 and luhn_check_digit(digits[:-1]) == digits[-1]


def iban_checksum(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    numeric = "".join(str(int(char, 36)) for char in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "")
    return iban_checksum(compact[:2], compact[4:]) == compact[2:4]


# (brand, prefixes, length, grouping when spaced)
CARD_BRANDS = (
    ("visa", ("4",), 16, (4, 4, 4, 4)),
    ("mastercard", ("51", "52", "53", "54", "55", "2221", "2720"), 16, (4, 4, 4, 4)),
    ("amex", ("34", "37"), 15, (4, 6, 5)),
    ("discover", ("6011", "65"), 16, (4, 4, 4, 4)),
    ("jcb", ("3528", "3589"), 16, (4, 4, 4, 4)),
    ("diners", ("36",), 14, (4, 6, 4)),
)
# BBAN layouts: "n" a digit, "A" an upper-case letter, "c" either.
IBAN_LAYOUTS = {
    "DE": "n" * 18,
    "GB": "A" * 4 + "n" * 14,
    "FR": "n" * 10 + "c" * 11 + "n" * 2,
    "NL": "A" * 4 + "n" * 10,
    "ES": "n" * 20,
    "IT": "A" + "n" * 10 + "c" * 12,
    "BE": "n" * 12,
    "CH": "n" * 5 + "c" * 12,
    "PL": "n" * 24,
}
# National and international phone formats; "d" is any digit. Fixed ranges are real area codes
# and the ranges regulators reserve for fiction, so every number is one a carrier could issue.
PHONE_FORMATS = (
    "(212) 5dd-dddd",
    "415-3dd-dddd",
    "+1 617 4dd dddd",
    "+44 20 7946 0ddd",
    "020 7946 0ddd",
    "+44 7911 12dddd",
    "+49 30 2dddddd",
    "+49 89 1ddddddd",
    "+33 1 4d dd dd dd",
    "+33 6 1d dd dd dd",
    "+91 98ddd ddddd",
    "+55 11 9dddd-dddd",
    "+61 2 9ddd dddd",
    "+39 06 4ddd dddd",
    "+34 91d ddd ddd",
    "+31 20 5dd dddd",
)
LOCAL_PARTS = ("jane.roe", "li.wei", "m.kowalski", "sam_o", "noor", "j.smith42", "olga+photos", "a.n.other", "k-tanaka")
DOMAINS = ("example.com", "example.org", "mail.example.net", "studio.example.co.uk", "example.de", "photo.example.fr")
PEOPLE = (
    "Maria Gonzalez",
    "Jan Kowalski",
    "Aisha Bello",
    "Kenji Watanabe",
    "Jean-Luc Martin",
    "Priya Natarajan",
    "Olga Ivanova",
    "Tom O'Brien",
    "Fatima Al-Sayed",
    "Lars Eriksson",
)


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


def _grouped(compact: str, groups: tuple[int, ...], separator: str) -> str:
    parts, position = [], 0
    for size in groups:
        parts.append(compact[position : position + size])
        position += size
    return separator.join(parts)


def card_number(rng: random.Random, *, valid: bool = True) -> str:
    _brand, prefixes, length, groups = rng.choice(CARD_BRANDS)
    prefix = rng.choice(prefixes)
    body = prefix + _digits(rng, length - len(prefix) - 1)
    check = luhn_check_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    compact = body + check
    return _grouped(compact, groups, rng.choice(("", " ", "-")))


def iban(rng: random.Random, *, valid: bool = True) -> str:
    country = rng.choice(sorted(IBAN_LAYOUTS))
    bban = "".join(
        rng.choice(
            string.digits if kind == "n" else string.ascii_uppercase if kind == "A" else string.digits + string.ascii_uppercase
        )
        for kind in IBAN_LAYOUTS[country]
    )
    checksum = iban_checksum(country, bban)
    if not valid:
        checksum = f"{(int(checksum) + rng.randint(1, 90) - 2) % 97 + 2:02d}"
        if checksum == iban_checksum(country, bban):
            checksum = f"{(int(checksum) + 1 - 2) % 97 + 2:02d}"
    compact = country + checksum + bban
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[index : index + 4] for index in range(0, len(compact), 4))


def phone_number(rng: random.Random) -> str:
    return "".join(_digits(rng, 1) if char == "d" else char for char in rng.choice(PHONE_FORMATS))


def email_address(rng: random.Random) -> str:
    return f"{rng.choice(LOCAL_PARTS)}@{rng.choice(DOMAINS)}"


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    if rng.random() < 0.5:
        return ":".join(["2001", "db8", *groups[2:]])
    return f"2001:db8:{groups[2]}::{groups[6]}:{groups[7]}"


def person_name(rng: random.Random) -> str:
    return rng.choice(PEOPLE)


VALUE_MAKERS: dict[str, Callable[[random.Random], str]] = {
    EMAIL: email_address,
    PHONE: phone_number,
    CARD: card_number,
    IBAN: iban,
    IP: ip_address,
    PERSON: person_name,
}


def _isbn13(rng: random.Random) -> str:
    body = "978" + _digits(rng, 9)
    total = sum(int(char) * (1 if index % 2 == 0 else 3) for index, char in enumerate(body))
    check = str((10 - total % 10) % 10)
    return f"ISBN {body[:3]}-{body[3]}-{body[4:7]}-{body[7:12]}-{check}"


# Hard negatives: each looks like one of the entities, or is a number metadata is full of.
DECOY_MAKERS: dict[str, Callable[[random.Random], str]] = {
    "invalid card": lambda rng: card_number(rng, valid=False),
    "invalid iban": lambda rng: iban(rng, valid=False),
    "version": lambda rng: rng.choice(
        (
            f"v{rng.randint(1, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 40)}",
            f"firmware {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}-beta",
            f"build 10.0.{rng.randint(17000, 22999)}.{rng.randint(100, 3000)}",
        )
    ),
    "date": lambda rng: rng.choice(
        (
            f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/20{rng.randint(10, 25)}",
            f"20{rng.randint(10, 25)}:{rng.randint(1, 12):02d}:{rng.randint(1, 28):02d} "  # EXIF's DateTime
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
        )
    ),
    "isbn": _isbn13,
    "order number": lambda rng: rng.choice(
        (
            f"Order #{rng.randint(100000, 999999)}",
            f"INV-{_digits(rng, 9)}",
            f"Ref {rng.randint(2015, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-{_digits(rng, 4)}",
            f"SN {_digits(rng, 4)}-{_digits(rng, 4)}-{_digits(rng, 4)}",
        )
    ),
    "price": lambda rng: rng.choice(
        (f"${rng.randint(1, 9)},{_digits(rng, 3)}.{_digits(rng, 2)}", f"€ {rng.randint(1, 999)}.{_digits(rng, 2)}")
    ),
    "file name": lambda rng: rng.choice(
        (
            f"IMG_20{rng.randint(10, 25)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}_{_digits(rng, 6)}.jpg",
            f"DSC_{_digits(rng, 4)}.NEF",
        )
    ),
    "camera settings": lambda rng: (
        f"ISO {rng.choice((100, 200, 400, 1600))}, f/{rng.choice(('1.8', '2.8', '5.6'))}, 1/{rng.choice((60, 250, 1000))} s"
    ),
    "barcode": lambda rng: _digits(rng, 13),
}

# Where each field's text is put for the detector: (metadata section, key) or the caption.
TEXT_FIELDS = {
    "caption": None,
    "exif:ImageDescription": ("exif", "ImageDescription"),
    "exif:Artist": ("exif", "Artist"),
    "exif:UserComment": ("exif", "UserComment"),
    "exif:Copyright": ("exif", "Copyright"),
    "xmp:dc:description": ("xmp", "{http://purl.org/dc/elements/1.1/}description"),
    "xmp:dc:creator": ("xmp", "{http://purl.org/dc/elements/1.1/}creator"),
    "xmp:dc:rights": ("xmp", "{http://purl.org/dc/elements/1.1/}rights"),
    "xmp:Iptc4xmpCore:CiTelWork": ("xmp", "{http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/}CiTelWork"),
    "iptc:Caption-Abstract": ("iptc", "Caption-Abstract"),
    "iptc:By-line": ("iptc", "By-line"),
    "iptc:Contact": ("iptc", "Contact"),
    "iptc:CopyrightNotice": ("iptc", "CopyrightNotice"),
}
FILE_NAME_FIELD = "file_name"
PROSE = (
    "Sunset over the harbour",
    "Team offsite, day 2",
    "Product shot for the spring catalogue",
    "Street market in the old town",
    "Rehearsal, second act",
    "Scanned from the 1998 album",
    "Do not crop the logo",
    "Licensed for editorial use only",
)
LABELS = {
    EMAIL: ("contact", "email", "write to", ""),
    PHONE: ("call", "tel.", "phone", ""),
    CARD: ("paid with card", "card", ""),
    IBAN: ("IBAN", "pay to", "bank account", ""),
    IP: ("uploaded from", "host", "IP", ""),
    PERSON: ("photo by", "©", "model:", ""),
}


def _labelled(rng: random.Random, entity: str, value: str) -> tuple[str, int]:
    """`value` with an optional leading label; returns the piece and the value's offset in it."""
    label = rng.choice(LABELS[entity])
    prefix = f"{label} " if label else ""
    return prefix + value, len(prefix)


def text_samples(count: int, seed: int = SEED) -> list[TextSample]:
    """`count` fields: about 60% with one or two planted entities, every field with 0–2 decoys."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible set, not secrets
    samples = []
    fields = list(TEXT_FIELDS)
    for index in range(count):
        entities = [TEXT_ENTITIES[index % len(TEXT_ENTITIES)]] if index % 5 < 3 else []
        if entities and rng.random() < 0.3:
            entities.append(rng.choice(TEXT_ENTITIES))
        decoys = rng.sample(sorted(DECOY_MAKERS), k=rng.choice((0, 1, 1, 2)) if entities else rng.choice((1, 2)))
        pieces: list[tuple[str | None, str, int]] = [(None, DECOY_MAKERS[kind](rng), 0) for kind in decoys]
        for entity in entities:
            piece, offset = _labelled(rng, entity, VALUE_MAKERS[entity](rng))
            pieces.append((entity, piece, offset))
        rng.shuffle(pieces)
        if rng.random() < 0.5:
            pieces.insert(0, (None, rng.choice(PROSE), 0))
        separator = rng.choice((", ", " · ", "; ", " - ", " | "))
        text, planted = "", []
        for entity, piece, offset in pieces:
            if text:
                text += separator
            if entity is not None:
                start = len(text) + offset
                planted.append(Planted(entity, piece[offset:], start, len(text) + len(piece)))
            text += piece
        samples.append(TextSample(rng.choice(fields), text, tuple(planted), tuple(decoys)))
    samples.extend(_file_name_samples(rng, max(4, count // 10)))
    return samples


def _file_name_samples(rng: random.Random, count: int) -> Iterator[TextSample]:
    """File names: mostly camera and export names (negatives), some with an address or number in them."""
    for index in range(count):
        if index % 3 == 0:
            entity = EMAIL if index % 2 == 0 else PHONE
            value = VALUE_MAKERS[entity](rng).replace(" ", "-") if entity == PHONE else VALUE_MAKERS[entity](rng)
            prefix = rng.choice(("portrait_", "from_", "IMG_0042_"))
            yield TextSample(
                FILE_NAME_FIELD, f"{prefix}{value}.jpg", (Planted(entity, value, len(prefix), len(prefix) + len(value)),), ()
            )
        else:
            kind = rng.choice(("file name", "version", "date", "order number"))
            yield TextSample(FILE_NAME_FIELD, DECOY_MAKERS[kind](rng).replace(" ", "_").replace("/", "-") + ".jpg", (), (kind,))


# --- text in pixels ----------------------------------------------------------------------------

CANVAS = (640, 420)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "brick", "camera", "moon", "grass", "gravel", "horse")
_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
_FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "STIXGeneral.ttf",
)


@cache
def font_files() -> tuple[Path, ...]:
    """DejaVu from Debian and DejaVu/STIX from matplotlib's wheel (whichever are installed)."""
    import matplotlib

    directories = (*_FONT_DIRS, Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf")
    found: dict[str, Path] = {}
    for directory in directories:
        for name in _FONT_NAMES:
            if name not in found and (directory / name).is_file():
                found[name] = directory / name
    return tuple(found[name] for name in _FONT_NAMES if name in found)


@cache
def _photo(name: str, size: tuple[int, int]) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB").resize(size)


def _background(rng: random.Random, kind: str) -> tuple[Image.Image, tuple[int, int, int]]:
    """The canvas and a text colour that reads on it."""
    width, height = CANVAS
    if kind == "plain":
        light = rng.random() < 0.7
        shade = rng.randint(215, 255) if light else rng.randint(0, 50)
        colour = (shade, rng.randint(max(0, shade - 30), min(255, shade + 30)), shade)
        return Image.new("RGB", CANVAS, colour), (20, 20, 30) if light else (240, 240, 235)
    if kind == "gradient":
        start, end = np.array([rng.randint(150, 255) for _ in range(3)]), np.array([rng.randint(170, 255) for _ in range(3)])
        ramp = np.linspace(0, 1, width)[None, :, None]
        pixels = (start + (end - start) * ramp) * np.ones((height, 1, 1))
        return Image.fromarray(pixels.astype(np.uint8)), (rng.randint(0, 60), rng.randint(0, 60), rng.randint(0, 90))
    photo = _photo(rng.choice(PHOTOS), CANVAS).copy()
    return photo, (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0)


def _fitted_font(rng: random.Random, text: str, room: int) -> ImageFont.FreeTypeFont:
    path = rng.choice(font_files())
    size = rng.randint(18, 38)
    font = ImageFont.truetype(str(path), size)
    while size > 14 and font.getlength(text) > room:
        size -= 2
        font = ImageFont.truetype(str(path), size)
    return font


def _line_text(rng: random.Random, entity: str | None) -> str:
    if entity is None:
        return DECOY_MAKERS[rng.choice(sorted(DECOY_MAKERS))](rng)
    piece, _offset = _labelled(rng, entity, VALUE_MAKERS[entity](rng))
    return piece


PIXEL_ENTITIES = (EMAIL, PHONE, CARD, IBAN, IP)


def pixel_samples(count: int, seed: int = SEED) -> list[PixelSample]:
    """`count` images with 1–3 lines each: about two thirds of the lines planted, the rest decoys;
    one image in six has only decoys."""
    rng = random.Random(seed + 1)  # noqa: S311 - a reproducible set, not secrets
    samples = []
    for index in range(count):
        background = ("plain", "gradient", "photo")[index % 3]
        image, colour = _background(rng, background)
        only_decoys = index % 6 == 5
        line_count = rng.randint(1, 3)
        lines: list[DrawnLine] = []
        slot_height = CANVAS[1] // line_count
        for slot in range(line_count):
            entity = None if only_decoys or rng.random() < 0.3 else PIXEL_ENTITIES[(index + slot) % len(PIXEL_ENTITIES)]
            text = _line_text(rng, entity)
            font = _fitted_font(rng, text, CANVAS[0] - 60)
            _left, _top, right, bottom = font.getbbox(text)
            patch = Image.new("RGBA", (right + 8, bottom + 8), (0, 0, 0, 0))
            angle = rng.choice((0, 0, rng.uniform(-4, 4)))
            x = rng.randint(10, max(10, CANVAS[0] - patch.width - 20))
            y = slot * slot_height + rng.randint(5, max(5, slot_height - patch.height - 10))
            if background == "photo":
                # Text over a photo is written to be read: a colour against the patch's light.
                region = image.crop((x, y, x + patch.width, y + patch.height)).convert("L")
                light = float(np.asarray(region).mean()) > 110
                colour = (0, 0, 0) if light else (255, 255, 255)
            ImageDraw.Draw(patch).text((4, 4), text, font=font, fill=(*colour, 255))
            if angle:
                patch = patch.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
            image.paste(patch, (x, y), patch)
            lines.append(DrawnLine(entity, text, (x, y, patch.width, patch.height)))
        samples.append(PixelSample(f"pixels-{index:03d}-{background}", image, tuple(lines)))
    return samples


# --- GPS -----------------------------------------------------------------------------------------


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4))


def gps_samples(count: int, seed: int = SEED) -> list[GpsSample]:
    """Half with coordinates in EXIF GPS; the rest without (no EXIF, EXIF without GPS, or a GPS
    block with only an altitude and a timestamp, which says nothing about where)."""
    rng = random.Random(seed + 2)  # noqa: S311 - a reproducible set, not secrets
    samples = []
    for index in range(count):
        image = Image.new("RGB", (48, 48), (rng.randint(0, 255), 90, 120))
        exif = Image.Exif()
        coordinates = None
        if index % 2 == 0:
            coordinates = (round(rng.uniform(-85, 85), 5), round(rng.uniform(-179, 179), 5))
            exif[0x8825] = {
                1: "N" if coordinates[0] >= 0 else "S",
                2: _dms(coordinates[0]),
                3: "E" if coordinates[1] >= 0 else "W",
                4: _dms(coordinates[1]),
            }
        elif index % 4 == 1:
            exif[0x0110] = "Example Camera"  # Model
        elif index % 4 == 3:
            exif[0x8825] = {5: b"\x00", 6: float(rng.randint(0, 3000)), 29: "2024:03:12"}
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", exif=exif)
        samples.append(GpsSample(f"gps-{index:03d}", buffer.getvalue(), coordinates))
    return samples


# --- faces -------------------------------------------------------------------------------------

FACE_PHOTOS = ("astronaut", "camera")
FACELESS_PHOTOS = (
    "coffee",
    "coins",
    "chelsea",
    "rocket",
    "horse",
    "brick",
    "moon",
    "grass",
    "gravel",
    "page",
    "hubble_deep_field",
    "immunohistochemistry",
)


def _variants(image: Image.Image) -> Iterator[tuple[str, Image.Image]]:
    width, height = image.size
    yield "", image
    yield "-flipped", image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    yield "-half", image.resize((width // 2, height // 2))
    yield "-crop", image.crop((width // 8, 0, width * 7 // 8, height * 3 // 4))


def face_samples(*, quick: bool = False) -> list[FaceSample]:
    """Faces: the astronaut and the cameraman with flips, halves and crops, and (full set) 20 of
    the LFW faces shipped with scikit-image, upscaled; no faces: photos (a cat's face among them),
    textures, a scanned page, procedural noise and gradients, flipped too."""
    from skimage import data

    samples = []
    for name in FACE_PHOTOS:
        for suffix, variant in _variants(Image.fromarray(getattr(data, name)()).convert("RGB")):
            samples.append(FaceSample(f"{name}{suffix}", variant, True))
    if not quick:
        faces = data.lfw_subset()[:20]  # the first 100 of the 200 are faces
        for index, face in enumerate(faces):
            pixels = (np.asarray(face) * 255).astype(np.uint8)
            samples.append(FaceSample(f"lfw-{index:02d}", Image.fromarray(pixels).convert("RGB").resize((200, 200)), True))
    faceless = FACELESS_PHOTOS[:6] if quick else FACELESS_PHOTOS
    for name in faceless:
        image = Image.fromarray(getattr(data, name)()).convert("RGB")
        samples.append(FaceSample(name, image, False))
        if not quick:
            samples.append(FaceSample(f"{name}-flipped", image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), False))
    rng = np.random.default_rng(SEED)
    for index in range(2 if quick else 6):
        noise = rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
        samples.append(FaceSample(f"noise-{index}", Image.fromarray(noise), False))
    return samples


# --- faces in large scenes ---------------------------------------------------------------------
#
# A face small relative to its image (a person in a street, a group photo, a 4000 px photo with a
# 120 px face) shrinks to a few pixels in a detector's fixed-size input. These samples plant
# scikit-image's faces, scaled to 40-160 px wide, in 1500-2500 px scenes, and label each with the
# box the face itself was pasted to (not its hair or shoulders), so recall is counted per face.

# Each face source: a head-and-shoulders patch (left, top, right, bottom) in the photo, and the
# face inside it (left, top, width, height in the photo), read off the photos by eye.
HEAD_PATCHES = {
    "astronaut": ((130, 20, 320, 250), (172, 80, 104, 102)),
    "camera": ((140, 50, 320, 260), (180, 120, 88, 80)),
}
# Scene backgrounds: photos upscaled to scene size, or a mosaic of several (sharper detail).
SCENE_PHOTOS = ("coffee", "rocket", "chelsea", "horse", "hubble_deep_field", "retina")
MOSAIC_PHOTOS = (
    "brick",
    "grass",
    "gravel",
    "moon",
    "immunohistochemistry",
    "coffee",
    "rocket",
    "coins",
    "clock",
    "hubble_deep_field",
)
SCENE_FACE_WIDTHS = (40, 48, 56, 64, 80, 96, 112, 128, 160)
# Recall is reported per bucket of planted face width, in the scene's pixels.
FACE_SIZE_BUCKETS = ((40, 63), (64, 95), (96, 160))


@dataclass(frozen=True)
class PlantedFace:
    source: str  # "astronaut", "camera" (either possibly "-flipped") or "lfw-NN"
    box: Box

    @property
    def width(self) -> int:
        return self.box[2]


@dataclass(frozen=True)
class SceneSample:
    name: str
    image: Image.Image
    faces: tuple[PlantedFace, ...]  # empty for a faceless scene


def face_size_bucket(width: int) -> str:
    for low, high in FACE_SIZE_BUCKETS:
        if low <= width <= high:
            return f"{low}-{high} px"
    raise ValueError(f"no bucket for a {width} px face")


def _photo_array(name: str) -> np.ndarray:
    from skimage import data, util

    pixels = util.img_as_ubyte(getattr(data, name)())  # the horse is a boolean mask
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return np.ascontiguousarray(pixels[:, :, :3])


def _scene_background(rng: random.Random, width: int, height: int) -> tuple[str, Image.Image]:
    if rng.random() < 0.5:
        name = rng.choice(SCENE_PHOTOS)
        return name, Image.fromarray(_photo_array(name)).resize((width, height), Image.Resampling.BICUBIC)
    columns, rows = rng.randint(2, 4), rng.randint(2, 4)
    scene = Image.new("RGB", (width, height))
    for row in range(rows):
        for column in range(columns):
            left, top = column * width // columns, row * height // rows
            size = ((column + 1) * width // columns - left, (row + 1) * height // rows - top)
            tile = Image.fromarray(_photo_array(rng.choice(MOSAIC_PHOTOS))).resize(size, Image.Resampling.BICUBIC)
            scene.paste(tile, (left, top))
    return f"mosaic{columns}x{rows}", scene


def _face_patch(rng: random.Random, face_width: int, lfw: np.ndarray) -> tuple[str, Image.Image, Box]:
    """A face to paste, scaled so the face is `face_width` wide, with the face's box in the patch."""
    if face_width <= 96 and rng.random() < 0.35:
        # LFW's 25 px greyscale crops are the face itself; beyond 96 px they are mostly blur.
        index = rng.randrange(len(lfw))
        patch = Image.fromarray((lfw[index] * 255).astype(np.uint8)).convert("RGB")
        patch = patch.resize((face_width, face_width), Image.Resampling.BICUBIC)
        return f"lfw-{index:02d}", patch, (0, 0, face_width, face_width)
    name = rng.choice(sorted(HEAD_PATCHES))
    (left, top, right, bottom), (face_left, face_top, face_w, face_h) = HEAD_PATCHES[name]
    patch = Image.fromarray(_photo_array(name)).crop((left, top, right, bottom))
    face: Box = (face_left - left, face_top - top, face_w, face_h)
    if rng.random() < 0.5:
        patch = patch.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        face = (patch.width - face[0] - face[2], face[1], face[2], face[3])
        name += "-flipped"
    factor = face_width / face_w
    patch = patch.resize((round(patch.width * factor), round(patch.height * factor)), Image.Resampling.LANCZOS)
    scaled: Box = (round(face[0] * factor), round(face[1] * factor), face_width, round(face[3] * factor))
    return name, patch, scaled


def _overlapping(a: Box, b: Box, margin: int) -> bool:
    horizontally = a[0] - margin < b[0] + b[2] and b[0] - margin < a[0] + a[2]
    return horizontally and a[1] - margin < b[1] + b[3] and b[1] - margin < a[1] + a[3]


def _scene(rng: random.Random, name: str, face_count: int, lfw: np.ndarray) -> SceneSample:
    width, height = rng.randint(1500, 2500), rng.randint(1500, 2500)
    background, scene = _scene_background(rng, width, height)
    faces: list[PlantedFace] = []
    patches: list[Box] = []
    while len(faces) < face_count:
        source, patch, face = _face_patch(rng, rng.choice(SCENE_FACE_WIDTHS), lfw)
        left, top = rng.randint(0, width - patch.width), rng.randint(0, height - patch.height)
        where: Box = (left, top, patch.width, patch.height)
        if any(_overlapping(where, other, 20) for other in patches):
            continue  # faces side by side, never one pasted over another
        scene.paste(patch, (left, top))
        patches.append(where)
        faces.append(PlantedFace(source, (left + face[0], top + face[1], face[2], face[3])))
    return SceneSample(f"{name}-{background}-{width}x{height}", scene, tuple(faces))


def face_scene_samples(*, quick: bool = False, seed: int = SEED) -> Iterator[SceneSample]:
    """Large scenes (1500-2500 px) with one small face, groups of 3-6, or none (the negatives).

    Built one at a time: a 2500 px scene is 19 MB of pixels."""
    from skimage import data

    rng = random.Random(seed)  # noqa: S311 - a reproducible set, not secrets
    lfw = data.lfw_subset()[:100]  # the first 100 of the 200 are faces
    singles, groups, faceless = (4, 2, 4) if quick else (16, 6, 12)
    for index in range(singles):
        yield _scene(rng, f"single-{index:02d}", 1, lfw)
    for index in range(groups):
        yield _scene(rng, f"group-{index:02d}", rng.randint(3, 6), lfw)
    for index in range(faceless):
        yield _scene(rng, f"faceless-{index:02d}", 0, lfw)
