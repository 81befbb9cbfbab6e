"""Near-duplicates: recall per transformation, false positives, and the inlier-threshold curve.

The set (built here, seed fixed, nothing downloaded):

- protected works: scikit-image's photos (each scaled to at most 512 px), one half of four
  photos whose other half is a hard negative (a star field, a fundus, a stained tissue, a tray
  of coins), and procedural "artworks" (shapes in a palette over a gradient);
- positives: each work transformed (JPEG quality, resize, crop, horizontal flip, brightness,
  overlays, rotation ±10°, colour grading, shown inside a UI window or photographed on a
  monitor), labelled with the transformation and its parameter;
- negatives: the other half of the split photos (same scene type, no shared pixels), the photos
  not registered (textures beside the registered brick, a second page of text…), procedural
  artworks in a registered work's palette (hard) and in other palettes, and flat images
  (gradients, noise, checkerboards) that only the hash fallback could match.

Each query takes the auditor's path without the database: `fingerprint_image` of the image,
its embedding where the stage is on, `NearDuplicateIndex.query` with the embedding stage's
settings (as `_Query.against` in auditing/auditors/near_duplicate.py) over an index built
from the works' fingerprints and embeddings (as the protected-works registry builds it). Every
match is a finding for review, so a positive counts as found when the right work matches, and a
negative as a false positive when any work matches. The query runs once at the lowest inlier
threshold of the curve and keeps each match's inliers, so every threshold is counted from the
same run; the auditor's own threshold is MIN_INLIERS.
"""

from __future__ import annotations

import io
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from auditing.evaluation.metrics import Figure, Measurement, Tally, ratio
from auditing.similarity.embeddings import CandidateEmbeddings, candidate_embeddings
from auditing.similarity.near_duplicate import MIN_INLIERS, NearDuplicateIndex, fingerprint_image, has_features

SEED = 20261205
_MAX_EDGE = 512
# Inlier thresholds of the curve, around the auditor's MIN_INLIERS (15); 60 is where the
# auditor's score reaches 1.0.
CURVE = (8, 10, 12, MIN_INLIERS, 20, 25, 30, 40, 60)

# What each family of transformations is expected to reach: the auditor's promise, not what it
# happened to measure.
RECALL_TARGETS = {
    "jpeg": 0.95,
    "resize": 0.95,
    "crop": 0.9,
    "flip": 0.95,
    "brightness": 0.95,
    "overlay": 0.95,
    "rotation": 0.9,
    "colour_grading": 0.9,
    "screenshot": 0.8,
}
FALSE_POSITIVE_TARGET = 0.01

# --- the set ------------------------------------------------------------------------------------

PHOTO_WORKS = (
    "astronaut",
    "coffee",
    "chelsea",
    "camera",
    "rocket",
    "clock",
    "motorcycle",
    "page",
    "colorwheel",
    "brick",
    "moon",
    "cell",
)
QUICK_PHOTO_WORKS = ("astronaut", "coffee", "camera", "clock")
# (photo, which half is registered): the other half is a negative of the same scene type.
SPLIT_WORKS = (("hubble_deep_field", "top"), ("retina", "left"), ("immunohistochemistry", "left"), ("coins", "left"))
QUICK_SPLIT_WORKS = (("hubble_deep_field", "top"),)
UNREGISTERED_PHOTOS = ("grass", "gravel", "text", "horse", "logo", "shepp_logan_phantom", "microaneurysms", "checkerboard")
PROCEDURAL_WORKS = 8
QUICK_PROCEDURAL_WORKS = 2


@dataclass(frozen=True)
class Sample:
    """One image of the set and its label: the work it copies (None for a negative), the
    transformation (or the negative's kind) and its parameter."""

    work: str | None
    transform: str
    parameter: str
    image: Image.Image = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.transform} {self.parameter}".strip()


@dataclass
class EvaluationSet:
    works: dict[str, Image.Image]
    positives: list[Sample]
    negatives: list[Sample]


def _photo(name: str) -> Image.Image:
    import skimage.data

    # Of the motorcycle, the left view only: the right one is the same scene a few centimetres away.
    array = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255).astype(np.uint8)
    image = Image.fromarray(array)
    image = image.convert("RGBA").convert("RGB") if image.mode in ("RGBA", "P") else image.convert("RGB")
    scale = _MAX_EDGE / max(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    return image


def _halves(image: Image.Image, kept: str) -> tuple[Image.Image, Image.Image]:
    """(registered half, other half): disjoint pixels of one scene."""
    width, height = image.size
    if kept in ("top", "bottom"):
        top, bottom = image.crop((0, 0, width, height // 2)), image.crop((0, height // 2, width, height))
        return (top, bottom) if kept == "top" else (bottom, top)
    left, right = image.crop((0, 0, width // 2, height)), image.crop((width // 2, 0, width, height))
    return (left, right) if kept == "left" else (right, left)


def _palette(rng: np.random.Generator) -> list[tuple[int, int, int]]:
    return [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(5)]  # type: ignore[misc]


def artwork(palette: list[tuple[int, int, int]], seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A procedural picture: a gradient between two palette colours, then shapes and strokes in
    the palette, then a little grain (so it has the corners a photo has)."""
    rng = np.random.default_rng(seed)
    width, height = size
    t = np.linspace(0, 1, width)[None, :, None] * 0.6 + np.linspace(0, 1, height)[:, None, None] * 0.4
    start, end = np.array(palette[0], dtype=np.float64), np.array(palette[1], dtype=np.float64)
    canvas = Image.fromarray((start * (1 - t) + end * t).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(18, 30))):
        colour = palette[int(rng.integers(0, len(palette)))]
        x0, y0 = int(rng.integers(-40, width)), int(rng.integers(-40, height))
        x1, y1 = x0 + int(rng.integers(15, 160)), y0 + int(rng.integers(15, 160))
        kind = int(rng.integers(0, 4))
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif kind == 2:
            points = [(int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(int(rng.integers(3, 6)))]
            draw.polygon(points, fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(2, 9)))
    grain = rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(canvas, dtype=np.float64) + grain, 0, 255).astype(np.uint8))


def _flat_images(rng: np.random.Generator, count: int) -> Iterator[tuple[str, Image.Image]]:
    """Gradients, noise, checkerboards and flat colours: keypoint-poor or repetitive images."""
    for i in range(count):
        width, height = int(rng.integers(256, 520)), int(rng.integers(256, 520))
        kind = ("gradient", "noise", "checkerboard", "flat")[i % 4]
        if kind == "gradient":
            x, y = np.linspace(0, 1, width)[None, :, None], np.linspace(0, 1, height)[:, None, None]
            array = ((rng.random(3) * x + rng.random(3) * y) / 2 * 255).astype(np.uint8)
        elif kind == "noise":
            array = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        elif kind == "checkerboard":
            cell = int(rng.integers(8, 64))
            yy, xx = np.mgrid[0:height, 0:width]
            array = np.repeat((((xx // cell + yy // cell) % 2) * 255).astype(np.uint8)[:, :, None], 3, axis=2)
        else:
            array = np.full((height, width, 3), rng.integers(0, 256, 3), dtype=np.uint8)
        yield kind, Image.fromarray(array)


# --- transformations ----------------------------------------------------------------------------


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def resize(image: Image.Image, scale: float) -> Image.Image:
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BICUBIC)


def crop(image: Image.Image, kept: float, rng: np.random.Generator) -> Image.Image:
    """A window of `kept` of each side, placed at random."""
    width, height = round(image.width * kept), round(image.height * kept)
    left, top = int(rng.integers(0, image.width - width + 1)), int(rng.integers(0, image.height - height + 1))
    return image.crop((left, top, left + width, top + height))


def brightness(image: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(factor)


def overlay(image: Image.Image, kind: str) -> Image.Image:
    """A caption band, an opaque corner logo, or a tiled semi-transparent watermark."""
    out = image.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    width, height = out.size
    if kind == "text":
        size = max(12, height // 12)
        draw.rectangle((0, height - 2 * size, width, height), fill=(0, 0, 0, 160))
        draw.text(
            (size // 2, height - 1.7 * size), "© 2026 Example Studio — all rights", fill=(255, 255, 255, 255), font_size=size
        )
    elif kind == "logo":
        side = max(24, min(width, height) // 4)
        box = (width - side - 8, 8, width - 8, side + 8)
        draw.ellipse(box, fill=(200, 30, 30, 255))
        draw.text((box[0] + side // 5, box[1] + side // 3), "XS", fill=(255, 255, 255, 255), font_size=side // 3)
    else:  # watermark
        tile = Image.new("RGBA", (240, 120), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text((10, 40), "PREVIEW", fill=(255, 255, 255, 90), font_size=36)
        tile = tile.rotate(30, expand=True)
        for y in range(0, height, tile.height // 2):
            for x in range(0, width, tile.width // 2):
                layer.alpha_composite(tile, (x, y))
    return Image.alpha_composite(out, layer).convert("RGB")


def rotate(image: Image.Image, degrees: float) -> Image.Image:
    """Rotated in place (the frame kept), corners filled black."""
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))


def grade(image: Image.Image, look: str) -> Image.Image:
    array = np.asarray(image, dtype=np.float64) / 255
    if look == "sepia":
        matrix = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
        array = array @ matrix.T
    elif look == "teal_orange":
        luma = array @ np.array([0.299, 0.587, 0.114])
        shadows, highlights = np.array([0.0, 0.35, 0.4]), np.array([1.0, 0.6, 0.3])
        tint = shadows * (1 - luma[..., None]) + highlights * luma[..., None]
        array = 0.65 * array + 0.35 * tint
    elif look == "greyscale":
        array = np.repeat((array @ np.array([0.299, 0.587, 0.114]))[..., None], 3, axis=2)
    elif look == "faded":
        array = 0.15 + 0.7 * array  # lifted blacks, lowered whites
    elif look == "contrast":
        array = 1 / (1 + np.exp(-8 * (array - 0.5)))  # an S-curve
    return Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8))


def screenshot(image: Image.Image, kind: str) -> Image.Image:
    """The image shown inside something: an app window with a title bar and a sidebar, or a
    monitor (bezel, desk) photographed at a slight angle and softened by the camera."""
    if kind == "ui_window":
        canvas = Image.new("RGB", (1280, 800), (236, 236, 240))
        draw = ImageDraw.Draw(canvas)
        draw.rectangle((0, 0, 1280, 36), fill=(52, 56, 66))
        draw.text((16, 8), "Gallery — photo.png", fill=(230, 230, 230), font_size=18)
        draw.rectangle((0, 36, 220, 800), fill=(250, 250, 252))
        for row in range(12):
            draw.text((20, 60 + 52 * row), f"Album {row + 1}", fill=(60, 60, 60), font_size=16)
        shown = image.copy()
        shown.thumbnail((960, 680), Image.Resampling.LANCZOS)
        canvas.paste(shown, (240 + (1020 - shown.width) // 2, 56 + (720 - shown.height) // 2))
        return canvas
    screen = image.copy()
    screen.thumbnail((560, 420), Image.Resampling.LANCZOS)
    monitor = Image.new("RGB", (screen.width + 48, screen.height + 64), (18, 18, 20))
    monitor.paste(screen, (24, 24))
    desk = Image.new("RGB", (monitor.width + 160, monitor.height + 140), (120, 98, 80))
    desk.paste(monitor, (80, 50))
    w, h = desk.size
    # A perspective: the right edge 6% shorter than the left, as from a camera off to one side.
    quad = (0, 0, 0, h, w, h - int(0.03 * h), w, int(0.03 * h))
    tilted = desk.transform(desk.size, Image.Transform.QUAD, quad, Image.Resampling.BICUBIC)
    return tilted.filter(ImageFilter.GaussianBlur(0.8))


def transformations(quick: bool) -> list[tuple[str, str, Callable[[Image.Image, np.random.Generator], Image.Image]]]:
    """(family, parameter, function) for every transformation in the set."""
    qualities = (70, 30) if quick else (90, 70, 50, 30, 15)
    scales = (0.5,) if quick else (0.75, 0.5, 0.25)
    kept = (0.75, 0.5) if quick else (0.9, 0.75, 0.6, 0.5)
    factors = (0.7, 1.4) if quick else (0.6, 0.8, 1.25, 1.5)
    overlays = ("text", "watermark") if quick else ("text", "logo", "watermark")
    angles = (-10, 10) if quick else (-10, -5, 5, 10)
    looks = ("sepia", "greyscale") if quick else ("sepia", "teal_orange", "greyscale", "faded", "contrast")
    frames = ("ui_window", "monitor_photo")
    return [
        *[("jpeg", f"q={q}", lambda im, _, q=q: jpeg(im, q)) for q in qualities],
        *[("resize", f"x{s}", lambda im, _, s=s: resize(im, s)) for s in scales],
        *[("crop", f"keep={k}", lambda im, rng, k=k: crop(im, k, rng)) for k in kept],
        ("flip", "horizontal", lambda im, _: ImageOps.mirror(im)),
        *[("brightness", f"x{f}", lambda im, _, f=f: brightness(im, f)) for f in factors],
        *[("overlay", o, lambda im, _, o=o: overlay(im, o)) for o in overlays],
        *[("rotation", f"{a:+d}°", lambda im, _, a=a: rotate(im, a)) for a in angles],
        *[("colour_grading", look, lambda im, _, look=look: grade(im, look)) for look in looks],
        *[("screenshot", frame, lambda im, _, frame=frame: screenshot(im, frame)) for frame in frames],
    ]


def build_set(quick: bool = False, *, seed: int = SEED) -> EvaluationSet:
    """The labelled set; the same seed gives the same images, pixel for pixel."""
    rng = np.random.default_rng(seed)
    works: dict[str, Image.Image] = {}
    negatives: list[Sample] = []
    for name in QUICK_PHOTO_WORKS if quick else PHOTO_WORKS:
        works[f"photo:{name}"] = _photo(name)
    for name, kept in QUICK_SPLIT_WORKS if quick else SPLIT_WORKS:
        registered, other = _halves(_photo(name), kept)
        works[f"half:{name}"] = registered
        negatives.append(Sample(None, "other_half", name, other))
    palettes = [_palette(rng) for _ in range(QUICK_PROCEDURAL_WORKS if quick else PROCEDURAL_WORKS)]
    for number, palette in enumerate(palettes):
        works[f"artwork:{number}"] = artwork(palette, seed + number)
        # Same palette, another composition: the hard negative for a colour-histogram match.
        for other in range(1 if quick else 3):
            negatives.append(
                Sample(None, "same_palette", f"artwork:{number}/{other}", artwork(palette, seed + 1000 * (other + 1) + number))
            )
    for name in UNREGISTERED_PHOTOS[:3] if quick else UNREGISTERED_PHOTOS:
        negatives.append(Sample(None, "unregistered_photo", name, _photo(name)))
    for number in range(2 if quick else 16):
        negatives.append(Sample(None, "other_palette", str(number), artwork(_palette(rng), seed + 5000 + number)))
    for number, (kind, image) in enumerate(_flat_images(rng, 4 if quick else 24)):
        negatives.append(Sample(None, "flat", f"{kind}:{number}", image))
    # The unregistered photos and the other halves again, as a copy of them would arrive: a
    # negative must stay one after the same transformations the positives go through.
    for sample in [n for n in negatives if n.transform in ("other_half", "unregistered_photo")]:
        for family, parameter, apply in transformations(quick)[:: 5 if quick else 3]:
            negatives.append(
                Sample(None, f"{sample.transform}+{family}", f"{sample.parameter} {parameter}", apply(sample.image, rng))
            )
    positives = [
        Sample(key, family, parameter, apply(work, rng))
        for key, work in works.items()
        for family, parameter, apply in transformations(quick)
    ]
    return EvaluationSet(works, positives, negatives)


# --- running the detector -----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the detector said about one sample: the most inliers with which the right work
    matched (None: not matched; a hash-only match counts as passing every threshold), and the
    most with which any other work did."""

    sample: Sample
    right: float | None
    wrong: float | None

    def found(self, threshold: int) -> bool:
        return self.right is not None and self.right >= threshold

    def false_positive(self, threshold: int) -> bool:
        return self.wrong is not None and self.wrong >= threshold


def run(evaluation_set: EvaluationSet, embeddings: CandidateEmbeddings | None) -> list[Outcome]:
    """Every sample queried against an index of the works, as the auditor queries the registry."""
    fingerprints = {key: fingerprint_image(image) for key, image in evaluation_set.works.items()}
    vectors = {}
    if embeddings is not None:
        vectors = {
            key: embeddings.embed(image)
            for key, image in evaluation_set.works.items()
            if has_features(fingerprints[key].width, fingerprints[key].height)
        }
    index = NearDuplicateIndex.rebuild(
        fingerprints.items(), embeddings=vectors, embedding_model=embeddings.version if embeddings is not None else ""
    )
    outcomes = []
    for sample in [*evaluation_set.positives, *evaluation_set.negatives]:
        fingerprint = fingerprint_image(sample.image)
        options: dict = {}
        if embeddings is not None and has_features(fingerprint.width, fingerprint.height):
            options = {
                "embedding": embeddings.embed(sample.image),
                "embedding_candidates": embeddings.candidates,
                "min_similarity": embeddings.min_similarity,
            }
        right: float | None = None
        wrong: float | None = None
        for match in index.query(fingerprint, min_inliers=CURVE[0], **options):
            strength = float("inf") if match.method == "hash" else float(match.inliers)
            if match.key == sample.work:
                right = max(right or 0.0, strength)
            else:
                wrong = max(wrong or 0.0, strength)
        outcomes.append(Outcome(sample, right, wrong))
    return outcomes


# --- the measurement ----------------------------------------------------------------------------


def plumbing_model(directory: Path) -> CandidateEmbeddings | None:
    """A tiny open_clip model with random weights (seed 0), written as an operator would place a
    checkpoint: it proves the embedding stage's plumbing, never its accuracy. None without
    torch and open_clip."""
    import importlib.util

    if importlib.util.find_spec("open_clip") is None:
        return None
    from auditing.evaluation.tiny_clip import write_tiny_clip

    config_path, weights = write_tiny_clip(directory, name="cleanroom-evaluation-tiny-clip")
    return candidate_embeddings({"MODEL": str(config_path), "WEIGHTS": str(weights)})


def _rate(values: list[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summarise(outcomes: list[Outcome], threshold: int = MIN_INLIERS) -> dict[str, Tally]:
    """Tallies at `threshold`: one per transformation family (its positives), "negatives" (every
    negative: any match is a false positive) and "wrong_work" (positives that also matched
    another work)."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for outcome in outcomes:
        if outcome.sample.work is None:
            tallies["negatives"].add(expected=False, found=outcome.false_positive(threshold))
        else:
            tallies[outcome.sample.transform].add(expected=True, found=outcome.found(threshold))
            tallies["wrong_work"].add(expected=False, found=outcome.false_positive(threshold))
    return tallies


def embedding_stage(scratch: Path) -> tuple[CandidateEmbeddings | None, str]:
    """The embedding stage to measure and what it is: the operator's model
    (settings.CLEANROOM_EMBEDDINGS) where one is configured, else a tiny random-weights model
    written into `scratch` (plumbing only), else None (open_clip not installed)."""
    configured = candidate_embeddings()
    if configured is not None:
        return configured, "configured in settings.CLEANROOM_EMBEDDINGS"
    return plumbing_model(
        scratch
    ), "a tiny open_clip with random weights: proves the plumbing, says nothing of a real model's accuracy"


def measure(quick: bool = False) -> Measurement:
    """Recall per transformation and false positives, with the embedding stage off and on (the
    notes name its model), and the threshold curve."""
    evaluation_set = build_set(quick)
    with tempfile.TemporaryDirectory() as scratch:
        embeddings, model_note = embedding_stage(Path(scratch))
        runs = {"off": run(evaluation_set, None)}
        if embeddings is not None:
            runs["on"] = run(evaluation_set, embeddings)
    return _measurement(evaluation_set, runs, embeddings, model_note)


def _measurement(
    evaluation_set: EvaluationSet, runs: dict[str, list[Outcome]], embeddings: CandidateEmbeddings | None, model_note: str
) -> Measurement:
    measurement = Measurement(
        auditor="near_duplicate", headers=["transformation", "positives", "recall (hashes+keypoints)", "recall (+embeddings)"]
    )
    by_label: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for stage, outcomes in runs.items():
        for outcome in outcomes:
            if outcome.sample.work is not None:
                by_label[outcome.sample.label][stage].append(outcome.found(MIN_INLIERS))
    for label, stages in by_label.items():
        measurement.rows.append([label, len(stages["off"]), _fmt(_rate(stages["off"])), _fmt(_rate(stages.get("on", [])))])
    summaries = {stage: summarise(outcomes) for stage, outcomes in runs.items()}
    for family in RECALL_TARGETS:
        off, on = summaries["off"][family], summaries.get("on", {}).get(family)
        measurement.rows.append([f"ALL {family}", off.positives, _fmt(off.recall), _fmt(on.recall if on else None)])
    for stage, prefix in (("off", "accuracy.near_duplicate"), ("on", "accuracy.near_duplicate.embeddings")):
        if stage not in summaries:
            continue
        tallies = summaries[stage]
        for family, target in RECALL_TARGETS.items():
            measurement.figures.append(Figure(f"{prefix}.{family}.recall", ratio(tallies[family].recall), "ratio", ">=", target))
        negatives, wrong = tallies["negatives"], tallies["wrong_work"]
        measurement.figures.append(
            Figure(f"{prefix}.false_positive_rate", ratio(negatives.false_positive_rate), "ratio", "<=", FALSE_POSITIVE_TARGET)
        )
        measurement.figures.append(
            Figure(f"{prefix}.wrong_work_rate", ratio(wrong.false_positive_rate), "ratio", "<=", FALSE_POSITIVE_TARGET)
        )
        for threshold in CURVE:
            at = summarise(runs[stage], threshold)
            positives = Tally()
            for family in RECALL_TARGETS:
                positives.true_positives += at[family].true_positives
                positives.false_negatives += at[family].false_negatives
            name = f"{prefix}.curve.inliers_{threshold}"
            # Informational points (target 0 / 1): only the auditor's own threshold carries the
            # targets above.
            measurement.figures.append(Figure(f"{name}.recall", ratio(positives.recall), "ratio", ">=", 0))
            measurement.figures.append(
                Figure(f"{name}.false_positive_rate", ratio(at["negatives"].false_positive_rate), "ratio", "<=", 1)
            )
    negatives = runs["off"]
    kinds = sorted({o.sample.transform for o in negatives if o.sample.work is None})
    count = sum(1 for o in negatives if o.sample.work is None)
    measurement.notes += [
        f"set: {len(evaluation_set.works)} protected works, {len(evaluation_set.positives)} positives, {count} negatives "
        f"({', '.join(kinds)}); seed {SEED}",
        f"{count} negatives bound what a false-positive rate of 0 proves: below {3 / count:.3f} at 95% confidence "
        "(rule of three), on this set's kinds of image",
        f"operating threshold: {MIN_INLIERS} RANSAC inliers (auditing/similarity/fingerprint.py MIN_INLIERS); "
        f"curve at {', '.join(map(str, CURVE))}",
        "embedding stage: "
        + (
            f"{embeddings.version} ({model_note}), {embeddings.candidates} candidates at cosine ≥ {embeddings.min_similarity}"
            if embeddings
            else "off (open_clip not installed)"
        ),
    ]
    for stage, outcomes in runs.items():
        misses = [f"{o.sample.work}/{o.sample.label}" for o in outcomes if o.sample.work is not None and not o.found(MIN_INLIERS)]
        hits = [
            f"{o.sample.transform}:{o.sample.parameter}"
            for o in outcomes
            if o.sample.work is None and o.false_positive(MIN_INLIERS)
        ]
        measurement.notes.append(f"[{stage}] missed ({len(misses)}): {', '.join(misses) or 'none'}")
        measurement.notes.append(f"[{stage}] false positives ({len(hits)}): {', '.join(hits) or 'none'}")
    return measurement
