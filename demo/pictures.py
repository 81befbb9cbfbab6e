"""The demo's artwork: a dozen procedural pictures and a one-page consent form, the same bytes
on every run so that loading the demo twice changes nothing."""

from __future__ import annotations

import calendar
import io
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 512


@dataclass(frozen=True)
class Picture:
    name: str
    fmt: str  # "JPEG" or "PNG"
    caption: str
    draw: Callable[[random.Random, np.random.Generator], Image.Image]


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    axis = np.linspace(0.0, 1.0, SIZE, dtype=np.float32)
    return np.meshgrid(axis, axis)  # x, y in [0, 1]


def _lerp(a: tuple, b: tuple, t: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a + (b - a) * t[..., None]


def _to_image(array: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


def _grain(image: Image.Image, rng: np.random.Generator, amount: float = 6.0) -> Image.Image:
    noise = rng.normal(0.0, amount, (SIZE, SIZE, 1)).astype(np.float32)
    return _to_image(np.asarray(image, np.float32) + noise)


def _value_noise(rng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    total, weight = np.zeros((SIZE, SIZE), np.float32), 0.0
    for octave in range(octaves):
        cells = 4 * 2**octave
        small = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8), "L")
        layer = np.asarray(small.resize((SIZE, SIZE), Image.Resampling.BICUBIC), np.float32) / 255.0
        amplitude = 0.5**octave
        total += layer * amplitude
        weight += amplitude
    return total / weight


def _sunset(r: random.Random, rng: np.random.Generator) -> Image.Image:
    _, y = _grid()
    sky = _lerp((40, 20, 90), (255, 150, 60), y)
    image = _to_image(sky)
    draw = ImageDraw.Draw(image)
    cx, cy, radius = r.randint(150, 360), r.randint(260, 330), r.randint(50, 80)
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(255, 220, 120))
    for layer, colour in enumerate([(90, 40, 70), (60, 25, 50), (30, 12, 30)]):
        base = 330 + layer * 55
        points = [(0, SIZE)] + [(px, base - r.randint(0, 90)) for px in range(0, SIZE + 64, 64)] + [(SIZE, SIZE)]
        draw.polygon(points, fill=colour)
    return _grain(image, rng)


def _moon(r: random.Random, rng: np.random.Generator) -> Image.Image:
    x, y = _grid()
    distance = np.sqrt((x - 0.5) ** 2 + (y - 0.45) ** 2)
    image = _to_image(_lerp((30, 50, 110), (5, 8, 25), np.clip(distance * 1.6, 0, 1)))
    draw = ImageDraw.Draw(image)
    for _ in range(160):
        sx, sy, glow = r.randint(0, SIZE), r.randint(0, SIZE), r.choice([1, 1, 1, 2])
        draw.ellipse((sx - glow, sy - glow, sx + glow, sy + glow), fill=(255, 255, 235))
    draw.ellipse((166, 130, 346, 310), fill=(235, 232, 210))
    for _ in range(9):
        cx, cy, radius = r.randint(200, 310), r.randint(165, 275), r.randint(6, 18)
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(205, 200, 180))
    return _grain(image.filter(ImageFilter.GaussianBlur(0.6)), rng, 4.0)


def _rings(r: random.Random, rng: np.random.Generator) -> Image.Image:
    x, y = _grid()
    cx, cy = r.uniform(0.3, 0.7), r.uniform(0.3, 0.7)
    distance = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
    band = (distance * 14).astype(np.int32) % 6
    palette = np.array(
        [(230, 57, 70), (241, 250, 238), (168, 218, 220), (69, 123, 157), (29, 53, 87), (244, 162, 97)], np.float32
    )
    return _to_image(palette[band])


def _checker(r: random.Random, rng: np.random.Generator) -> Image.Image:
    x, y = _grid()
    squares = ((x * 8).astype(np.int32) + (y * 8).astype(np.int32)) % 2
    image = _to_image(np.where(squares[..., None] == 1, np.float32([40, 110, 80]), np.float32([235, 225, 200])))
    shadow = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(shadow).ellipse((170, 190, 390, 410), fill=140)
    image.paste((0, 0, 0), mask=shadow.filter(ImageFilter.GaussianBlur(14)))
    ImageDraw.Draw(image).ellipse((140, 150, 360, 370), fill=(220, 60, 50), outline=(120, 20, 20), width=4)
    return image


def _mondrian(r: random.Random, rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), (245, 240, 230))
    draw = ImageDraw.Draw(image)
    boxes = [(0, 0, SIZE, SIZE)]
    for _ in range(11):
        # Split one of the two largest boxes, so the grid fills the whole canvas.
        boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        x0, y0, x1, y1 = boxes.pop(len(boxes) - 1 - r.randrange(min(2, len(boxes))))
        if (x1 - x0) > (y1 - y0) and x1 - x0 > 80:
            cut = r.randint(x0 + 40, x1 - 40)
            boxes += [(x0, y0, cut, y1), (cut, y0, x1, y1)]
        elif y1 - y0 > 80:
            cut = r.randint(y0 + 40, y1 - 40)
            boxes += [(x0, y0, x1, cut), (x0, cut, x1, y1)]
        else:
            boxes.append((x0, y0, x1, y1))
    colours = [(245, 240, 230)] * 4 + [(200, 30, 30), (30, 60, 160), (240, 200, 30)]
    for box in boxes:
        draw.rectangle(box, fill=r.choice(colours), outline=(15, 15, 15), width=7)
    return image


def _clouds(r: random.Random, rng: np.random.Generator) -> Image.Image:
    _, y = _grid()
    sky = _lerp((70, 130, 210), (170, 205, 240), y)
    cover = np.clip((_value_noise(rng) - 0.45) * 3.0, 0, 1)
    return _grain(_to_image(sky * (1 - cover[..., None]) + 250 * cover[..., None]), rng, 3.0)


def _waves(r: random.Random, rng: np.random.Generator) -> Image.Image:
    x, y = _grid()
    phase = np.sin(x * r.uniform(8, 14) + np.sin(y * r.uniform(3, 6)) * 2.0) * 0.5 + 0.5
    stripes = np.sin((y + phase * 0.12) * 60) * 0.5 + 0.5
    return _to_image(_lerp((10, 60, 90), (120, 210, 200), stripes * 0.8 + x * 0.2))


def _poster(r: random.Random, rng: np.random.Generator) -> Image.Image:
    x, y = _grid()
    image = _to_image(_lerp((250, 235, 210), (230, 120, 90), (x + y) / 2))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        cx, cy, radius = r.randint(0, SIZE), r.randint(0, SIZE), r.randint(20, 90)
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=(40, 40, 60), width=3)
    draw.rectangle((40, 190, 472, 330), fill=(25, 25, 45))
    draw.text((SIZE // 2, 240), "CLEANROOM", font=_font(64), fill=(250, 235, 210), anchor="mm")
    draw.text((SIZE // 2, 300), "consented pixels only", font=_font(26), fill=(230, 120, 90), anchor="mm")
    draw.text((SIZE // 2, 470), "demo image · generated, not photographed", font=_font(18), fill=(40, 40, 60), anchor="mm")
    return image


def _mountains(r: random.Random, rng: np.random.Generator) -> Image.Image:
    _, y = _grid()
    image = _to_image(_lerp((200, 220, 235), (250, 245, 235), y))
    draw = ImageDraw.Draw(image)
    for layer in range(5):
        shade = 190 - layer * 38
        colour = (shade - 30, shade - 10, shade + 10)
        base, points = 200 + layer * 60, [(0, SIZE)]
        height = 0.0
        for px in range(0, SIZE + 16, 16):
            height += r.uniform(-22, 22)
            height = max(-90.0, min(90.0, height))
            points.append((px, base + height))
        points.append((SIZE, SIZE))
        draw.polygon(points, fill=colour)
    return _grain(image, rng, 4.0)


def _plasma(r: random.Random, rng: np.random.Generator) -> Image.Image:
    x, y = _grid()
    a, b, c = (r.uniform(5, 12) for _ in range(3))
    v = np.sin(x * a) + np.sin(y * b) + np.sin((x + y) * c) + np.sin(np.sqrt((x - 0.5) ** 2 + (y - 0.5) ** 2) * 18)
    v = (v - v.min()) / (v.max() - v.min())
    rgb = np.stack([np.sin(v * math.pi * 2), np.sin(v * math.pi * 2 + 2.1), np.sin(v * math.pi * 2 + 4.2)], axis=-1)
    return _grain(_to_image((rgb * 0.5 + 0.5) * 255), rng, 5.0)


def _halftone(r: random.Random, rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    cx, cy = r.randint(150, 360), r.randint(150, 360)
    step = 16
    for gy in range(step // 2, SIZE, step):
        for gx in range(step // 2, SIZE, step):
            level = 1 - min(1.0, math.hypot(gx - cx, gy - cy) / 330)
            radius = 1 + level * (step / 2 - 1)
            draw.ellipse((gx - radius, gy - radius, gx + radius, gy + radius), fill=(20, 30, 110))
    return image


def _voronoi(r: random.Random, rng: np.random.Generator) -> Image.Image:
    x, y = _grid()
    seeds = rng.random((24, 2)).astype(np.float32)
    colours = rng.integers(40, 240, (24, 3)).astype(np.float32)
    distance = (x[..., None] - seeds[:, 0]) ** 2 + (y[..., None] - seeds[:, 1]) ** 2
    ordered = np.sort(distance, axis=-1)
    edge = np.sqrt(ordered[..., 1]) - np.sqrt(ordered[..., 0]) < 0.006
    cells = colours[np.argmin(distance, axis=-1)]
    cells[edge] = (20, 20, 20)
    return _grain(_to_image(cells), rng, 3.0)


PICTURES = [
    Picture("sunset", "JPEG", "A stylised sunset: a pale sun sinking behind three layers of purple hills.", _sunset),
    Picture("moon", "JPEG", "A full moon with craters in a deep blue night sky full of stars.", _moon),
    Picture("rings", "PNG", "Concentric rings in red, cream, teal and navy around an off-centre point.", _rings),
    Picture("checker", "PNG", "A red ball with a soft shadow on a green and cream checkerboard.", _checker),
    Picture(
        "mondrian", "PNG", "An abstract grid of rectangles in red, blue, yellow and white with thick black lines.", _mondrian
    ),
    Picture("clouds", "JPEG", "White clouds drifting across a blue afternoon sky.", _clouds),
    Picture("waves", "PNG", "Rippling teal and turquoise stripes like water.", _waves),
    Picture("poster", "PNG", "A typographic poster reading CLEANROOM, consented pixels only.", _poster),
    Picture("mountains", "JPEG", "Five misty mountain ridges fading into a pale sky.", _mountains),
    Picture("plasma", "JPEG", "A psychedelic plasma of flowing rainbow colours.", _plasma),
    Picture("halftone", "PNG", "A halftone pattern of navy dots growing towards a bright centre.", _halftone),
    Picture("voronoi", "JPEG", "A stained-glass mosaic of coloured Voronoi cells with dark edges.", _voronoi),
]


def consent_form_pdf(*, contributor_name: str, contributor_email: str, terms_version: str, granted_at: str) -> bytes:
    """A one-page 'signed' consent form, byte-identical on every run (fixed PDF dates)."""
    page = Image.new("L", (850, 1100), 255)
    draw = ImageDraw.Draw(page)
    title, body = _font(34), _font(20)
    draw.text((70, 70), "Image contribution and consent form", font=title, fill=0)
    lines = [
        f"Contributor: {contributor_name} <{contributor_email}>",
        f"Terms version: {terms_version}",
        f"Granted: {granted_at[:10]} (no expiry)",
        "",
        "I grant the operator of this Cleanroom instance permission to use the",
        "images I contribute for:",
        "  [x] ai_training          [x] generative_training",
        "  [ ] commercial_use       [ ] likeness",
        "",
        "The images are procedurally generated and show no identifiable person.",
        "I may revoke this consent at any time; revocation withdraws the images",
        "and taints every dataset snapshot that contains them.",
        "",
        "This is demo evidence generated by `manage.py demo load`.",
    ]
    for row, line in enumerate(lines):
        draw.text((70, 160 + row * 34), line, font=body, fill=0)
    draw.line((70, 900, 420, 900), fill=0, width=2)
    draw.text((70, 910), "Signature", font=body, fill=0)
    draw.line((100, 880, 160, 850, 220, 885, 300, 845, 380, 880), fill=0, width=3, joint="curve")
    fixed = time.gmtime(calendar.timegm(time.strptime(granted_at[:10], "%Y-%m-%d")))
    buffer = io.BytesIO()
    page.save(buffer, "PDF", resolution=100.0, title="Consent form", creationDate=fixed, modDate=fixed)
    return buffer.getvalue()


def render(picture: Picture, index: int) -> tuple[bytes, str]:
    """The picture's file bytes and suffix (deterministic: seeded by its index)."""
    seed = 1000 + index
    image = picture.draw(random.Random(seed), np.random.default_rng(seed))  # noqa: S311 (reproducible pictures)
    buffer = io.BytesIO()
    if picture.fmt == "JPEG":
        image.save(buffer, "JPEG", quality=90, optimize=True)
        return buffer.getvalue(), ".jpg"
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue(), ".png"


# -- pictures the auditors flag (the review queue's demo content) ---------------------------------
# XMP declaring the image made by a trained model (IPTC DigitalSourceType): the synthetic auditor.
SYNTHETIC_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
FLAGGED_CAPTIONS = {
    "ai-generated": "A mountain range; its XMP says a trained model made it.",
    "geotagged": "Clouds over a rooftop; the camera left the GPS position in the EXIF.",
    "gallery-copy": "A stained-glass mosaic, a recompressed copy of a gallery's protected work.",
}


def protected_work() -> bytes:
    """A third party's work the demo registers as protected (a mosaic no demo picture resembles)."""
    seed = 7001
    image = _voronoi(random.Random(seed), np.random.default_rng(seed))  # noqa: S311 (reproducible pictures)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def flagged_pictures() -> dict[str, bytes]:
    """Name → JPEG bytes of three pictures the real auditors flag: one declared AI-generated
    (synthetic), one carrying GPS coordinates (pii), one a near-duplicate of `protected_work`."""
    seed = 7002
    generated = _mountains(random.Random(seed), np.random.default_rng(seed))  # noqa: S311
    synthetic = io.BytesIO()
    generated.save(synthetic, "JPEG", quality=90, xmp=SYNTHETIC_XMP)
    seed = 7003
    photo = _clouds(random.Random(seed), np.random.default_rng(seed))  # noqa: S311
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPSInfo: Paris
    geotagged = io.BytesIO()
    photo.save(geotagged, "JPEG", quality=90, exif=exif)
    work = Image.open(io.BytesIO(protected_work()))
    copy = io.BytesIO()
    work.resize((SIZE * 9 // 10, SIZE * 9 // 10), Image.Resampling.LANCZOS).save(copy, "JPEG", quality=75)
    return {"ai-generated": synthetic.getvalue(), "geotagged": geotagged.getvalue(), "gallery-copy": copy.getvalue()}
