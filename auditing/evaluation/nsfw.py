"""The NSFW auditor's evaluation set and its measurement.

The set is built here, with a fixed seed, from scikit-image's bundled photos and procedural
images (nothing is downloaded); every item's category and label are written by this builder.
It holds negatives only, in the categories that clean datasets are made of and that NudeNet was
seen to flag (a colour-wheel graphic came back BUTTOCKS_EXPOSED at 0.80, its box covering the
whole picture):

- `abstract`: colour wheels, hue rings, radial and conic gradients, shapes on colour fields;
- `gradient`: linear and two-dimensional colour gradients;
- `colour_chart`: swatch grids and stripes;
- `texture`: noise, blurred noise, skimage's brick / grass / gravel, tinted;
- `product`: skimage's coffee, coins, rocket, clock…, and procedural objects on plain backgrounds;
- `landscape`: procedural skies and hills, and skimage's outdoor photos;
- `clothed_person`: skimage's astronaut and cameraman with crops, flips, rescales and colour
  variants; the only category with a person in it (`has_person`).

No package we may use ships explicit images, so recall on real nudity cannot be measured here.
What can be measured honestly on the positive side is that the sanity policy never sets aside a
detection where there is a person: on every image with a person, any detection NudeNet makes
(of any label, counted or not) is compared before and after the policy.
"""

from __future__ import annotations

import colorsys
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from auditing.evaluation.metrics import Figure, Measurement, Tally, ratio

SEED = 20261205
SIDE = 256
CATEGORIES = ("abstract", "gradient", "colour_chart", "texture", "product", "landscape", "clothed_person")
FALSE_POSITIVE_TARGET = 0.01


@dataclass(frozen=True)
class EvalImage:
    name: str
    category: str
    image: Image.Image
    nsfw: bool = False  # the builder's label: every image in this set is safe
    has_person: bool = False  # a (clothed) person is in the picture


def _grid(side: int = SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in [-1, 1], x across and y down."""
    axis = np.linspace(-1.0, 1.0, side)
    return np.meshgrid(axis, axis)


def _hsv_to_rgb(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> Image.Image:
    hsv = np.stack([hue % 1.0, np.clip(saturation, 0, 1), np.clip(value, 0, 1)], axis=-1)
    return Image.fromarray((hsv * 255).astype(np.uint8), "HSV").convert("RGB")


def _abstract(rng: np.random.Generator, index: int) -> Image.Image:
    x, y = _grid()
    angle = (np.arctan2(y, x) / (2 * np.pi)) + rng.uniform(0, 1)
    radius = np.hypot(x, y)
    kind = index % 6
    if kind == 0:  # colour wheel: hue by angle, saturation by radius
        image = _hsv_to_rgb(angle, radius / rng.uniform(0.8, 1.2), np.where(radius <= 1, 1.0, rng.uniform(0, 1)))
    elif kind == 1:  # hue ring
        inner, outer = sorted(rng.uniform(0.2, 1.0, size=2))
        ring = (radius >= inner) & (radius <= outer + 0.1)
        image = _hsv_to_rgb(angle, np.where(ring, 1.0, 0.0), np.where(ring, 1.0, rng.uniform(0.0, 1.0)))
    elif kind == 2:  # conic gradient
        image = _hsv_to_rgb(np.full_like(x, rng.uniform(0, 1)), np.full_like(x, rng.uniform(0.3, 1)), angle % 1.0)
    elif kind == 3:  # radial gradient between two colours
        first, second = rng.uniform(0, 255, size=(2, 3))
        weight = np.clip(radius / rng.uniform(0.6, 1.4), 0, 1)[..., None]
        image = Image.fromarray((first * (1 - weight) + second * weight).astype(np.uint8))
    elif kind == 4:  # smooth blobs of colour (lava-lamp like)
        field = sum(np.sin(rng.uniform(1, 5) * x + rng.uniform(0, 6)) * np.cos(rng.uniform(1, 5) * y) for _ in range(3))
        image = _hsv_to_rgb(field / 6 + rng.uniform(0, 1), np.full_like(x, 0.8), np.full_like(x, 0.95))
    else:  # shapes on a colour field
        image = Image.new("RGB", (SIDE, SIDE), tuple(int(v) for v in rng.integers(0, 256, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(3, 9))):
            box = sorted(rng.integers(0, SIDE, 2)), sorted(rng.integers(0, SIDE, 2))
            shape = [box[0][0], box[1][0], box[0][1] + 8, box[1][1] + 8]
            fill = tuple(int(v) for v in rng.integers(0, 256, 3))
            if rng.uniform() < 0.5:
                draw.ellipse(shape, fill=fill)
            else:
                draw.rectangle(shape, fill=fill)
    return image


def _gradient(rng: np.random.Generator, index: int) -> Image.Image:
    x, y = _grid()
    if index % 2:  # two-dimensional: a colour in each corner
        corners = rng.uniform(0, 255, size=(4, 3))
        u, v = ((x + 1) / 2)[..., None], ((y + 1) / 2)[..., None]
        pixels = (1 - u) * (1 - v) * corners[0] + u * (1 - v) * corners[1] + (1 - u) * v * corners[2] + u * v * corners[3]
    else:  # linear, at an angle
        theta = rng.uniform(0, np.pi)
        t = np.clip((np.cos(theta) * x + np.sin(theta) * y + 1.4) / 2.8, 0, 1)[..., None]
        first, second = rng.uniform(0, 255, size=(2, 3))
        pixels = first * (1 - t) + second * t
    return Image.fromarray(pixels.astype(np.uint8))


def _colour_chart(rng: np.random.Generator, index: int) -> Image.Image:
    if index % 3 == 2:  # stripes
        count = int(rng.integers(4, 16))
        colours = rng.integers(0, 256, size=(count, 3), dtype=np.uint8)
        stripes = np.repeat(colours, math.ceil(SIDE / count), axis=0)[:SIDE]
        pixels = (
            np.broadcast_to(stripes[None, :, :], (SIDE, SIDE, 3))
            if index % 2
            else np.broadcast_to(stripes[:, None, :], (SIDE, SIDE, 3))
        )
        return Image.fromarray(np.ascontiguousarray(pixels))
    rows, columns = int(rng.integers(3, 9)), int(rng.integers(3, 9))
    if index % 3 == 0:  # a hue/lightness chart, as printed colour references are laid out
        hues = np.linspace(0, 1, columns, endpoint=False)
        lightness = np.linspace(0.25, 0.85, rows)
        colours = np.array([[colorsys.hls_to_rgb(h, lum, 0.8) for h in hues] for lum in lightness]) * 255
    else:  # random swatches
        colours = rng.uniform(0, 255, size=(rows, columns, 3))
    image = Image.new("RGB", (SIDE, SIDE), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    gap = 4
    cell_w, cell_h = (SIDE - gap) / columns, (SIDE - gap) / rows
    for r in range(rows):
        for c in range(columns):
            box = [gap + c * cell_w, gap + r * cell_h, (c + 1) * cell_w, (r + 1) * cell_h]
            draw.rectangle(box, fill=tuple(int(v) for v in colours[r, c]))
    return image


def _photo(name: str) -> Image.Image:
    from skimage import data

    pixels = getattr(data, name)()
    if isinstance(pixels, tuple):  # stereo_motorcycle: (left, right, disparity)
        pixels = pixels[0]
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    elif pixels.dtype != np.uint8:
        pixels = (255 * (pixels - pixels.min()) / max(1e-9, float(np.ptp(pixels)))).astype(np.uint8)
    return Image.fromarray(pixels).convert("RGB")


def _tinted(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A greyscale picture coloured between two random colours (a duotone)."""
    return ImageOps.colorize(
        image.convert("L"), tuple(int(v) for v in rng.integers(0, 128, 3)), tuple(int(v) for v in rng.integers(128, 256, 3))
    )


def _crop_square(image: Image.Image, rng: np.random.Generator, fraction: float) -> Image.Image:
    side = int(min(image.size) * fraction)
    left = int(rng.integers(0, image.width - side + 1))
    top = int(rng.integers(0, image.height - side + 1))
    return image.crop((left, top, left + side, top + side)).resize((SIDE, SIDE), Image.Resampling.BILINEAR)


def _texture(rng: np.random.Generator, index: int) -> Image.Image:
    kind = index % 5
    if kind == 0:  # coloured noise
        return Image.fromarray(rng.integers(0, 256, size=(SIDE, SIDE, 3), dtype=np.uint8))
    if kind == 1:  # blurred noise: soft colour clouds
        noise = Image.fromarray(rng.integers(0, 256, size=(SIDE // 8, SIDE // 8, 3), dtype=np.uint8))
        return noise.resize((SIDE, SIDE), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(3))
    photo = _photo(("brick", "grass", "gravel")[index % 3])
    photo = _crop_square(photo, rng, rng.uniform(0.4, 1.0))
    return _tinted(photo, rng) if kind == 4 else photo


PRODUCT_PHOTOS = (
    "coffee",
    "coins",
    "rocket",
    "clock",
    "chelsea",
    "cat",
    "moon",
    "page",
    "text",
    "logo",
    "hubble_deep_field",
    "immunohistochemistry",
    "cell",
    "stereo_motorcycle",
)


def _product(rng: np.random.Generator, index: int) -> Image.Image:
    if index % 2 == 0:
        name = PRODUCT_PHOTOS[(index // 2) % len(PRODUCT_PHOTOS)]
        photo = (
            _photo(name)
            if name != "stereo_motorcycle"
            else Image.fromarray(__import__("skimage.data").data.stereo_motorcycle()[0])
        )
        photo = _crop_square(photo, rng, rng.uniform(0.6, 1.0))
        return ImageOps.mirror(photo) if rng.uniform() < 0.5 else photo
    # A procedural "product": a shaded object with a shadow on a plain background.
    background = tuple(int(v) for v in rng.integers(180, 256, 3))
    image = Image.new("RGB", (SIDE, SIDE), background)
    draw = ImageDraw.Draw(image)
    colour = np.array(rng.integers(0, 256, 3))
    cx, cy = SIDE / 2 + rng.uniform(-30, 30), SIDE / 2 + rng.uniform(-20, 20)
    w, h = rng.uniform(50, 110), rng.uniform(50, 120)
    draw.ellipse([cx - w, cy + h - 10, cx + w, cy + h + 14], fill=tuple(int(v * 0.7) for v in background))
    shape = int(rng.integers(0, 3))
    for step in range(12, 0, -1):  # concentric layers, lighter inwards: a round, lit look
        shade = tuple(int(min(255, v * (0.6 + 0.05 * (12 - step)))) for v in colour)
        k = step / 12
        box = [cx - w * k, cy - h * k, cx + w * k, cy + h * k]
        (draw.ellipse if shape == 0 else draw.rounded_rectangle if shape == 1 else draw.rectangle)(box, fill=shade)  # type: ignore[operator]
    return image


def _landscape(rng: np.random.Generator, index: int) -> Image.Image:
    if index % 4 == 3:
        name = ("astronaut", "rocket", "coffee", "hubble_deep_field", "moon")[(index // 4) % 5]
        if name == "astronaut":  # the flag and sky behind her, without her
            return _photo(name).crop((320, 0, 512, 192)).resize((SIDE, SIDE))
        return _crop_square(_photo(name), rng, rng.uniform(0.5, 0.9))
    x, y = _grid()
    sky_top, sky_bottom = rng.uniform(0, 255, 3), rng.uniform(120, 255, 3)
    t = ((y + 1) / 2)[..., None]
    pixels = sky_top * (1 - t) + sky_bottom * t
    for layer in range(int(rng.integers(2, 5))):
        horizon = rng.uniform(-0.2, 0.6) + 0.15 * layer
        hills = horizon + 0.15 * np.sin(rng.uniform(1, 6) * x + rng.uniform(0, 6)) + 0.05 * np.sin(rng.uniform(6, 15) * x)
        ground = np.array([rng.uniform(20, 120), rng.uniform(60, 180), rng.uniform(20, 100)]) * (1 - 0.15 * layer)
        pixels = np.where((y > hills)[..., None], ground, pixels)
    if index % 2:  # a sun or moon
        sun = np.hypot(x - rng.uniform(-0.7, 0.7), y + rng.uniform(0.3, 0.8)) < rng.uniform(0.05, 0.15)
        pixels = np.where(sun[..., None], np.array([255, 240, 200]), pixels)
    return Image.fromarray(pixels.astype(np.uint8))


def _clothed_person(rng: np.random.Generator, index: int) -> Image.Image:
    photo = _photo("astronaut" if index % 2 == 0 else "camera")
    variant = (index // 2) % 6
    if variant == 0:
        image = photo.resize((SIDE, SIDE))
    elif variant == 1:
        image = ImageOps.mirror(_crop_square(photo, rng, rng.uniform(0.7, 1.0)))
    elif variant == 2:  # rescaled small, then back up: a low-resolution copy
        factor = rng.uniform(0.3, 0.6)
        image = photo.resize((int(512 * factor), int(512 * factor))).resize((SIDE, SIDE))
    elif variant == 3:
        image = _tinted(photo, rng).resize((SIDE, SIDE))
    elif variant == 4:  # hue-shifted colours
        hue, saturation, value = photo.convert("HSV").split()
        shift = int(rng.integers(20, 236))
        image = (
            Image.merge("HSV", (hue.point(lambda v: (v + shift) % 256), saturation, value)).convert("RGB").resize((SIDE, SIDE))
        )
    else:
        image = _crop_square(photo, rng, rng.uniform(0.75, 0.95)).rotate(float(rng.uniform(-15, 15)), fillcolor=(128, 128, 128))
    return image


BUILDERS: dict[str, Callable[[np.random.Generator, int], Image.Image]] = {
    "abstract": _abstract,
    "gradient": _gradient,
    "colour_chart": _colour_chart,
    "texture": _texture,
    "product": _product,
    "landscape": _landscape,
    "clothed_person": _clothed_person,
}
# 360 negatives in all; --quick takes the first tenth of each category (same images).
PER_CATEGORY = {
    "abstract": 72,
    "gradient": 36,
    "colour_chart": 48,
    "texture": 60,
    "product": 60,
    "landscape": 48,
    "clothed_person": 36,
}


def evaluation_set(*, per_category: dict[str, int] | None = None) -> Iterator[EvalImage]:
    """The labelled set, in a fixed order; the same counts always give the same images."""
    counts = per_category or PER_CATEGORY
    for category in CATEGORIES:
        rng = np.random.default_rng([SEED, CATEGORIES.index(category)])
        for index in range(counts.get(category, 0)):
            yield EvalImage(
                name=f"{category}-{index:03d}",
                category=category,
                image=BUILDERS[category](rng, index),
                has_person=category == "clothed_person",
            )


def measure(quick: bool = False) -> Measurement:
    """False positives of NudeNet with and without the sanity policy, per category, in one run;
    and, on the images with a person, whether the policy keeps what NudeNet finds there."""
    from auditing.detectors.nsfw.nudenet import NUDENET_LABELS, NudeNetDetector
    from auditing.detectors.nsfw.sanity import FACE_LABELS, SkinEvidencePolicy

    counts = {category: max(2, count // 10) for category, count in PER_CATEGORY.items()} if quick else PER_CATEGORY
    policy = NudeNetDetector()
    raw = NudeNetDetector(policy=None)
    every_label = frozenset(NUDENET_LABELS)
    any_label_raw = NudeNetDetector(counted_labels=every_label, policy=None)
    any_label_policy = NudeNetDetector(counted_labels=every_label)
    faces_skin_only = NudeNetDetector(counted_labels=FACE_LABELS, policy=SkinEvidencePolicy(trust_faces=False))

    raw_tally, policy_tally = Tally(), Tally()
    per_category: dict[str, Counter[str]] = {category: Counter() for category in CATEGORIES}
    raw_scores: list[float] = []
    whole_frame_misses = 0
    person_raw = person_kept = faces_found = faces_kept_by_skin = 0
    for item in evaluation_set(per_category=counts):
        raw_result, policy_result = raw.detect(item.image), policy.detect(item.image)
        raw_tally.add(expected=item.nsfw, found=raw_result.flagged)
        policy_tally.add(expected=item.nsfw, found=policy_result.flagged)
        row = per_category[item.category]
        row["count"] += 1
        row["raw_fp"] += raw_result.flagged and not item.nsfw
        row["policy_fp"] += policy_result.flagged and not item.nsfw
        row["set_aside"] += len(policy_result.set_aside)
        if raw_result.flagged:
            raw_scores.append(raw_result.score)
            counted = [e for e in raw_result.labels if e["label"] in raw.counted_labels and e["score"] >= raw.threshold]
            whole_frame_misses += not all(
                e["box"][2] * e["box"][3] >= 0.9 * item.image.width * item.image.height for e in counted
            )
        if item.has_person:
            # Every label counted: what NudeNet finds on a person must survive the policy.
            person_raw += any_label_raw.detect(item.image).flagged
            person_kept += any_label_policy.detect(item.image).flagged
            found = faces_skin_only.detect(item.image)
            faces_found += found.flagged or any(e["score"] >= found.threshold for e in found.set_aside)
            faces_kept_by_skin += found.flagged

    rows: list[list[object]] = [
        [category, row["count"], row["raw_fp"], row["policy_fp"], row["set_aside"]] for category, row in per_category.items()
    ]
    rows.append(
        [
            "all",
            raw_tally.negatives,
            raw_tally.false_positives,
            policy_tally.false_positives,
            sum(r["set_aside"] for r in per_category.values()),
        ]
    )
    figures = [
        Figure(
            "accuracy.nsfw.false_positive_rate", ratio(policy_tally.false_positive_rate), "ratio", "<=", FALSE_POSITIVE_TARGET
        ),
        Figure("accuracy.nsfw.raw_false_positive_rate", ratio(raw_tally.false_positive_rate), "ratio", "<=", 1.0),
        Figure(
            "accuracy.nsfw.person_detections_kept", ratio(person_kept / person_raw if person_raw else None), "ratio", ">=", 1.0
        ),
        Figure(
            "accuracy.nsfw.faces_kept_by_skin_alone",
            ratio(faces_kept_by_skin / faces_found if faces_found else None),
            "ratio",
            ">=",
            0.0,
        ),
    ]
    people = counts["clothed_person"]
    notes = [
        "negatives only: no package we may use ships explicit images, so recall on nudity is NOT measured",
        f"person_detections_kept: NudeNet with all 18 labels counted flagged {person_raw} of {people} clothed-person "
        f"images, with the policy {person_kept} (faces, covered parts): the policy keeps detections on a person; "
        "it says nothing about recall on nudity",
        f"faces_kept_by_skin_alone: of {faces_found} face detections the skin test alone (no face exemption) keeps "
        f"{faces_kept_by_skin}: it fails on recoloured copies (hue-shifted, duotone), which is why a face exempts "
        "the image (greyscale images are exempt anyway: no skin tone to judge)",
        f"lever: a threshold would have to exceed {max(raw_scores, default=0.0):.2f} to clear the raw false positives",
        f"lever: a whole-frame box rule (>= 90% of the picture) alone would leave {whole_frame_misses} "
        f"of {raw_tally.false_positives} raw false positives",
    ]
    return Measurement(
        auditor="nsfw",
        headers=["category", "images", "raw FP", "policy FP", "set aside"],
        rows=rows,
        figures=figures,
        notes=notes,
    )
