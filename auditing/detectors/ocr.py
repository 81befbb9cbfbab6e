"""Text in pixels: Tesseract OCR, then the text detector, with the words' boxes kept.

Tesseract runs as a subprocess (Debian's `tesseract-ocr` + `tesseract-ocr-eng`) through
pytesseract. It is run single-threaded: OpenMP threads made it 2–3× slower per image on this
kind of machine, so throughput comes from more worker processes instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytesseract
from PIL import Image, ImageFilter
from presidio_analyzer import RecognizerResult

from auditing.detectors.pii_hit import Box, PiiHit, mask
from auditing.detectors.pii_text import analyze_text

PIXELS_FIELD = "pixels"
# Tesseract's time grows with the pixel count and gains nothing from text larger than this.
MAX_OCR_EDGE = 2500
# A hostile or pathological image must not hold a worker for minutes.
OCR_TIMEOUT_S = 60
MIN_WORD_CONFIDENCE = 0.0
# Two reads, measured in bench/pii.py on text over photos (recall 0.96 together, 0.44 for a
# plain read): Tesseract's layout analysis drops text it finds inside a "picture" region, so
# one read keeps only light panels (captions, labels, overlay bands: where most text in photos
# sits) with layout analysis, the other reads the whole image as one block of text (psm 6).
LIGHT_PANEL_LEVEL = 190
LIGHT_PANEL_RADIUS = 20
LIGHT_PANEL_FRACTION = 0.45

TextAnalysis = Callable[[str], list[RecognizerResult]]


@dataclass(frozen=True)
class OcrWord:
    text: str
    start: int  # offsets in OcrText.text
    end: int
    box: Box
    confidence: float


@dataclass(frozen=True)
class OcrText:
    text: str
    words: tuple[OcrWord, ...]


def ocr(image: Image.Image, *, language: str = "eng", page_mode: int = 3, light_panels_only: bool = False) -> OcrText:
    """The words Tesseract reads, joined line by line, with their boxes in image pixels.

    `page_mode` is Tesseract's --psm (3: find the layout, 6: one uniform block of text)."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    prepared, scale = _prepared(image)
    if light_panels_only:
        prepared = _light_panels(prepared)
    data = pytesseract.image_to_data(
        prepared, lang=language, config=f"--psm {page_mode}", output_type=pytesseract.Output.DICT, timeout=OCR_TIMEOUT_S
    )
    parts: list[str] = []
    words: list[OcrWord] = []
    position = 0
    previous_line: tuple[int, int, int] | None = None
    for index, raw in enumerate(data["text"]):
        word = raw.strip()
        confidence = float(data["conf"][index])
        if not word or confidence < MIN_WORD_CONFIDENCE:
            continue
        line = (data["block_num"][index], data["par_num"][index], data["line_num"][index])
        if previous_line is not None:
            # A newline between lines keeps a match from running across two unrelated lines.
            parts.append(" " if line == previous_line else "\n")
            position += 1
        previous_line = line
        box = tuple(round(data[key][index] / scale) for key in ("left", "top", "width", "height"))
        words.append(OcrWord(word, position, position + len(word), box, confidence))  # type: ignore[arg-type]
        parts.append(word)
        position += len(word)
    return OcrText("".join(parts), tuple(words))


def find_pii_in_pixels(image: Image.Image, *, ner_model_dir: str | Path | None = None) -> list[PiiHit]:
    """Personal data written in the image, each hit boxed by the union of its words."""
    return find_pii_in_reads(read_pixels(image), ner_model_dir=ner_model_dir)


def read_pixels(image: Image.Image) -> tuple[OcrText, ...]:
    """The image's text as `find_pii_in_pixels` reads it: both reads (see LIGHT_PANEL_LEVEL)."""
    return (ocr(image, page_mode=3, light_panels_only=True), ocr(image, page_mode=6))


def find_pii_in_reads(
    reads: tuple[OcrText, ...], *, ner_model_dir: str | Path | None = None, analyze: TextAnalysis | None = None
) -> list[PiiHit]:
    """Hits in text already read from an image, one per entity type and place.

    `analyze` replaces our text analysis (Presidio with our recognizers and threshold) so the
    accuracy evaluation can run Presidio alone on the very text Tesseract read."""
    hits: list[PiiHit] = []
    for read in reads:
        for hit in _hits_in(read, ner_model_dir=ner_model_dir, analyze=analyze):
            # The second read finds most of the first one's text again: keep one hit per place.
            if not any(h.entity_type == hit.entity_type and _overlap(h.box, hit.box) for h in hits):
                hits.append(hit)
    return hits


def _hits_in(read: OcrText, *, ner_model_dir: str | Path | None, analyze: TextAnalysis | None) -> list[PiiHit]:
    hits: list[PiiHit] = []
    results = analyze(read.text) if analyze is not None else analyze_text(read.text, ner_model_dir=ner_model_dir)
    for result in results:
        covered = [word for word in read.words if word.start < result.end and result.start < word.end]
        if not covered:
            continue
        hits.append(
            PiiHit(
                entity_type=result.entity_type,
                start=result.start,
                end=result.end,
                score=round(float(result.score), 4),
                text=mask(result.entity_type, read.text[result.start : result.end]),
                field=PIXELS_FIELD,
                box=union_box([word.box for word in covered]),
                details={"ocr_confidence": round(min(word.confidence for word in covered), 1)},
            )
        )
    return hits


def _overlap(a: Box | None, b: Box | None) -> bool:
    if a is None or b is None:
        return False
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def union_box(boxes: list[Box]) -> Box:
    left = min(box[0] for box in boxes)
    top = min(box[1] for box in boxes)
    right = max(box[0] + box[2] for box in boxes)
    bottom = max(box[1] + box[3] for box in boxes)
    return (left, top, right - left, bottom - top)


def _prepared(image: Image.Image) -> tuple[Image.Image, float]:
    """RGB or grey pixels Tesseract accepts, at most MAX_OCR_EDGE wide; and the scale used."""
    if image.mode not in ("RGB", "L"):
        # Transparent pixels would turn black and swallow dark text: flatten onto white.
        rgba = image.convert("RGBA")
        flattened = Image.new("RGB", rgba.size, "white")
        flattened.paste(rgba, mask=rgba.getchannel("A"))
        image = flattened
    longest = max(image.size)
    if longest <= MAX_OCR_EDGE:
        return image, 1.0
    scale = MAX_OCR_EDGE / longest
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale)))), scale


def _light_panels(image: Image.Image) -> Image.Image:
    """Grey pixels where light pixels dominate the neighbourhood, white everywhere else."""
    grey = image.convert("L")
    light = grey.point(lambda value: 255 if value > LIGHT_PANEL_LEVEL else 0)
    share = np.asarray(light.filter(ImageFilter.BoxBlur(LIGHT_PANEL_RADIUS)), dtype=np.float32) / 255
    return Image.fromarray(np.where(share > LIGHT_PANEL_FRACTION, np.asarray(grey), 255).astype(np.uint8))
