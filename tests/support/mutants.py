"""Malformed files for fuzzing ingest: seeded mutations of small valid images and ZIP archives.

Every file is made here, from a seed: the same seed gives the same files in the same order, so a
failure names a file that can be made again (`mutant_files(seed)` and its position). The seeds
are valid JPEG, PNG, WebP, GIF and TIFF images written by Pillow, a ZIP of images and a ZIP
holding a ZIP; each mutant is one or more of the damages a file meets on the way: bit flips,
truncation, bytes inserted or deleted, a chunk or marker repeated, a corrupted header, a
corrupted length field (in a PNG chunk, a JPEG segment, a ZIP local header or central
directory entry). Between the mutants, untouched valid images with pixels of their own
(never duplicates of each other) stand in for the good files a batch also carries.
"""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "TIFF": ".tif"}
# One untouched valid image every VALID_EVERY files.
VALID_EVERY = 10
# Where a length field sits: PNG chunk lengths (4 bytes before the type), JPEG segment lengths
# (after the marker), ZIP local headers and central directory entries (sizes, name length).
_LENGTH_FIELDS = [
    (re.compile(rb"(?=....(IHDR|IDAT|PLTE|IEND|tEXt))", re.DOTALL), 0, 4, ">I"),
    (re.compile(rb"\xff[\xc0-\xfe]"), 2, 2, ">H"),
    (re.compile(rb"PK\x03\x04"), 18, 4, "<I"),
    (re.compile(rb"PK\x03\x04"), 26, 2, "<H"),
    (re.compile(rb"PK\x01\x02"), 20, 4, "<I"),
    (re.compile(rb"PK\x01\x02"), 24, 4, "<I"),
    (re.compile(rb"PK\x01\x02"), 28, 2, "<H"),
    (re.compile(rb"PK\x01\x02"), 42, 4, "<I"),
    (re.compile(rb"PK\x05\x06"), 10, 2, "<H"),
    (re.compile(rb"PK\x05\x06"), 16, 4, "<I"),
]
_EXTREMES = {2: [0, 1, 0x7FFF, 0xFFFF], 4: [0, 1, 0x7FFFFFFF, 0xFFFFFFFF]}


@dataclass(frozen=True)
class FuzzFile:
    name: str
    data: bytes
    valid: bool  # an untouched image: ingest must accept it


def image(fmt: str, seed: int, size: int = 24) -> bytes:
    """A valid image in `fmt` with random pixels of its own."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    picture = Image.fromarray(pixels)
    if fmt == "GIF":
        picture = picture.convert("P")
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def seed_files(seed: int) -> dict[str, bytes]:
    """The valid files the mutants are made from (seed, seed + 1, … for the pixels)."""
    seeds = {f"seed-{fmt.lower()}{ext}": image(fmt, seed + i) for i, (fmt, ext) in enumerate(IMAGE_FORMATS.items())}
    seeds["seed-images.zip"] = zip_bytes({"a.png": image("PNG", seed + 10), "b.jpg": image("JPEG", seed + 11)})
    seeds["seed-stored.zip"] = zip_bytes({"c.gif": image("GIF", seed + 12)}, zipfile.ZIP_STORED)
    seeds["seed-nested.zip"] = zip_bytes(
        {"inner.zip": zip_bytes({"d.webp": image("WEBP", seed + 13)}), "e.tif": image("TIFF", seed + 14)}
    )
    return seeds


def _flip_bits(data: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(data))
        data[position] ^= 1 << rng.randrange(8)


def _truncate(data: bytearray, rng: random.Random) -> None:
    if len(data) > 1:
        del data[rng.randrange(1, len(data)) :]


def _insert(data: bytearray, rng: random.Random) -> None:
    position = rng.randrange(len(data) + 1)
    data[position:position] = rng.randbytes(rng.choice([1, 2, 4, 16, 256]))


def _delete(data: bytearray, rng: random.Random) -> None:
    start = rng.randrange(len(data))
    del data[start : start + rng.choice([1, 2, 4, 16, 256])]


def _duplicate_chunk(data: bytearray, rng: random.Random) -> None:
    """Repeat a stretch that starts at a marker (a PNG chunk, a JPEG segment, a ZIP header) or,
    without one, anywhere."""
    markers = [m.start() for m in re.finditer(rb"IDAT|IHDR|\xff[\xc0-\xfe]|PK\x01\x02|PK\x03\x04", data)]
    start = rng.choice(markers) if markers else rng.randrange(len(data))
    chunk = data[start : start + rng.choice([4, 16, 64, 512])]
    data[start:start] = chunk * rng.randint(1, 3)


def _corrupt_header(data: bytearray, rng: random.Random) -> None:
    for position in rng.sample(range(min(16, len(data))), k=rng.randint(1, 4)):
        data[position] = rng.randrange(256)


def _corrupt_length(data: bytearray, rng: random.Random) -> None:
    fields = [
        (m.start() + offset, width, fmt)
        for pattern, offset, width, fmt in _LENGTH_FIELDS
        for m in pattern.finditer(data)
        if m.start() + offset + width <= len(data)
    ]
    if not fields:
        _flip_bits(data, rng)
        return
    position, width, fmt = rng.choice(fields)
    data[position : position + width] = struct.pack(fmt, rng.choice(_EXTREMES[width]))


MUTATIONS: list[Callable[[bytearray, random.Random], None]] = [
    _flip_bits, _truncate, _insert, _delete, _duplicate_chunk, _corrupt_header, _corrupt_length,
]  # fmt: skip


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three mutations of `data`; never `data` itself."""
    while True:
        mutant = bytearray(data)
        for mutation in rng.choices(MUTATIONS, k=rng.randint(1, 3)):
            if mutant:
                mutation(mutant, rng)
        if mutant and bytes(mutant) != data:
            return bytes(mutant)


def _nest_mutant(inner: bytes, rng: random.Random) -> bytes:
    """A mutant inside an otherwise sound archive (so the damage is met past the outer ZIP)."""
    return zip_bytes({f"inner{rng.choice(list(IMAGE_FORMATS.values()))}": inner, "inner.zip": zip_bytes({"x.png": inner})})


def mutant_files(count: int, seed: int = 0) -> Iterator[FuzzFile]:
    """`count` files: a valid image every VALID_EVERY, the others mutants of the seeds."""
    rng = random.Random(seed)
    seeds = list(seed_files(seed * 1000).items())
    formats = list(IMAGE_FORMATS.items())
    for position in range(count):
        if position % VALID_EVERY == 0:
            fmt, ext = formats[(position // VALID_EVERY) % len(formats)]
            # Pixel seeds far from the mutants' seeds: a valid file is never a mutant's original.
            yield FuzzFile(f"{position:05d}-valid{ext}", image(fmt, 1_000_000 + seed * 100_000 + position), valid=True)
            continue
        name, data = rng.choice(seeds)
        mutant = mutate(data, rng)
        if rng.random() < 0.05:
            mutant, name = _nest_mutant(mutant, rng), f"{name}.nested.zip"
        yield FuzzFile(f"{position:05d}-{name.removeprefix('seed-')}", mutant, valid=False)
