"""Text in pixels: Tesseract OCR, then the text detector, with the words' boxes kept.

Tesseract runs as a subprocess (Debian's `tesseract-ocr` + `tesseract-ocr-eng`) through
pytesseract. It is run single-threaded: OpenMP threads made it 2–3× slower per image on this
kind of machine, so throughput comes from more worker processes instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytesseract
from PIL import Image, ImageFilter
from presidio_analyzer import RecognizerResult

from auditing.detectors.ocr_repair import MAX_JOINED_WORDS, joinable, repaired_token
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
# A third read, of the ink alone: text laid over a busy photo (grass, brick) is lost in both
# reads above, but overlay text is written near black or near white, which a textured photo
# rarely is over a large area. Each tone whose pixels are sparse enough to be strokes
# (at most INK_MAX_FRACTION of the image) is kept as black on white. On a flat background the
# ink is what the whole-image read already saw, so the read runs only on a busy one: where more
# than BUSY_FRACTION of the pixels step by more than BUSY_STEP grey levels to a neighbour (text
# on a plain or gradient background: under 4%; on textured photos: 5–40%).
INK_DARK_LEVEL = 40
INK_LIGHT_LEVEL = 215
INK_MIN_FRACTION = 0.002
INK_MAX_FRACTION = 0.15
BUSY_STEP = 24
BUSY_FRACTION = 0.04

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
    """The image's text as `find_pii_in_pixels` reads it: both reads (see LIGHT_PANEL_LEVEL),
    the ink read where there is one (see INK_DARK_LEVEL), each with its split or misread
    identifiers repaired (see ocr_repair)."""
    reads = [ocr(image, page_mode=3, light_panels_only=True), ocr(image, page_mode=6)]
    ink = ink_layer(image)
    if ink is not None:
        reads.append(ocr(ink, page_mode=6))
    return tuple(repaired(read) for read in reads)


def repaired(read: OcrText) -> OcrText:
    """`read` with each run of words on one line that repairs to an identifier (a split email
    address, card number, IBAN, IP address, or one with a look-alike character) made one word
    holding the repaired identifier. Shorter runs are tried first, so a label before an address
    stays its own word and an identifier read whole is no piece of a longer one."""
    lines = _lines(read.words)
    replaced: dict[int, tuple[int, str]] = {}  # first word's index -> (index after the run, repaired text)
    taken: set[int] = set()
    for length in range(1, MAX_JOINED_WORDS + 1):
        for line in lines:
            for first in range(len(line) - length + 1):
                run = line[first : first + length]
                if taken.intersection(run) or not _side_by_side(read, run):
                    continue
                token = "".join(read.words[index].text for index in run)
                repair = repaired_token(token)
                if repair is None:
                    continue
                if length > 1 or repair != token:
                    replaced[run[0]] = (run[-1] + 1, repair)
                taken.update(run)
    return _rebuilt(read, replaced) if replaced else read


def _side_by_side(read: OcrText, run: list[int]) -> bool:
    return all(joinable(read.words[left].box, read.words[right].box) for left, right in pairwise(run))


def _lines(words: tuple[OcrWord, ...]) -> list[list[int]]:
    """Word indexes, one list per line (consecutive words with a space between them)."""
    lines: list[list[int]] = []
    for index, word in enumerate(words):
        if lines and words[index - 1].end + 1 == word.start and lines[-1][-1] == index - 1:
            lines[-1].append(index)
        else:
            lines.append([index])
    return lines


def _rebuilt(read: OcrText, replaced: dict[int, tuple[int, str]]) -> OcrText:
    parts: list[str] = []
    words: list[OcrWord] = []
    position = 0
    index = 0
    while index < len(read.words):
        end, text = replaced.get(index, (index + 1, read.words[index].text))
        pieces = read.words[index:end]
        if words:
            separator = read.text[read.words[index - 1].end : pieces[0].start]
            parts.append(separator)
            position += len(separator)
        box = union_box([piece.box for piece in pieces])
        words.append(OcrWord(text, position, position + len(text), box, min(piece.confidence for piece in pieces)))
        parts.append(text)
        position += len(text)
        index = end
    return OcrText("".join(parts), tuple(words))


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


def _flattened(image: Image.Image) -> Image.Image:
    """RGB or grey pixels Tesseract accepts."""
    if image.mode in ("RGB", "L"):
        return image
    # Transparent pixels would turn black and swallow dark text: flatten onto white.
    rgba = image.convert("RGBA")
    flattened = Image.new("RGB", rgba.size, "white")
    flattened.paste(rgba, mask=rgba.getchannel("A"))
    return flattened


def _prepared(image: Image.Image) -> tuple[Image.Image, float]:
    """RGB or grey pixels Tesseract accepts, at most MAX_OCR_EDGE wide; and the scale used."""
    image = _flattened(image)
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


def ink_layer(image: Image.Image) -> Image.Image | None:
    """The near-black and near-white strokes as black on white; None on a flat background
    or when neither tone is sparse enough to be text (a white page, a dark night sky)."""
    prepared, _scale = _prepared(image)  # a bounded size: a 50-megapixel photo costs no more
    grey = np.asarray(prepared.convert("L"))
    if not _busy(grey):
        return None
    ink = np.zeros(grey.shape, dtype=bool)
    for tone in (grey < INK_DARK_LEVEL, grey > INK_LIGHT_LEVEL):
        if INK_MIN_FRACTION <= tone.mean() <= INK_MAX_FRACTION:
            ink |= tone
    if not ink.any():
        return None
    # In the image's own size, so the words' boxes are in its pixels like the other reads'.
    return Image.fromarray(np.where(ink, 0, 255).astype(np.uint8)).resize(image.size, Image.Resampling.NEAREST)


def _busy(grey: np.ndarray) -> bool:
    if min(grey.shape[:2]) < 2:
        return False  # a line of pixels has no neighbours both ways: nothing to call busy
    levels = grey.astype(np.int16)
    across = np.abs(np.diff(levels, axis=1))[:-1, :]
    down = np.abs(np.diff(levels, axis=0))[:, :-1]
    return bool((np.maximum(across, down) > BUSY_STEP).mean() > BUSY_FRACTION)
