"""Perceptual fingerprints of images, and the geometric check that two of them show one picture.

A fingerprint holds three 64-bit perceptual hashes (pHash, dHash, pHash of the mirrored image)
for a fast candidate search, and ORB keypoints with their binary descriptors for the
verification (up to 500 of the working copy, 200 of its half-size copy, and 500 of a framed
picture's region where the image is a screenshot of one): hashes alone miss crops and flips,
keypoints matched under a RANSAC homography do not, and the homography also says how the copy
was transformed.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import imagehash
import numpy as np
from PIL import Image, ImageOps

# Bump when anything that changes the fingerprint of an image changes (hash size, working size,
# ORB parameters): stored fingerprints of another version must be recomputed, not compared.
# Version 2 fills a keypoint-poor image's budget from its contrast-stretched copy. Version 3 adds
# keypoints of the half-size copy and of a framed picture's zoomed region (_features). Earlier
# versions hold a subset of what version 3 finds, in the same frame, so their entries are still
# read and compared: a version-3 query matches them (its half-size keypoints against their
# full-size ones is what finds a crop); they only miss what a version-3 entry adds.
FINGERPRINT_VERSION = 3
_READABLE_VERSIONS = (1, 2, 3)

MAX_KEYPOINTS = 500
# Keypoints are found on a copy whose long edge is this size, so a resized copy of an image
# gives nearly the same keypoints as its original and RANSAC tolerances mean the same thing
# for a thumbnail and for a 6,000-pixel scan.
WORKING_EDGE = 512
# Keypoint coordinates are stored as fixed-point uint16 in the working frame (1/64 pixel).
_COORD_SCALE = 64.0
# ORB proposes this many, of which MAX_KEYPOINTS are kept spread over a _GRID × _GRID grid.
_ORB_POOL = 2000
# ORB keeps every keypoint this far (its default) from each border of each pyramid level.
_ORB_EDGE_THRESHOLD = 31
# So a working copy whose short side is below this has no keypoint at all, and one 1 px thin
# crashes OpenCV's pyramid. Such images (a 3000×3 strip, a 10000×1 line: an aspect ratio above
# ~8:1) skip the feature stages (ORB, embeddings) and are matched on their perceptual hashes
# alone, as every keypoint-poor image is. No image that had keypoints loses them.
MIN_FEATURE_SIDE = 2 * _ORB_EDGE_THRESHOLD + 1
_GRID = 4
# A keypoint-poor image (soft clouds, skies, generated textures) is stretched to full contrast
# along its main colour axis, then CLAHE, before ORB fills its remaining budget: its structure
# is there, only faint in luminance. Below this range (grey levels along that axis) an image is
# flat, and stretching would only amplify noise.
_MIN_STRETCH_RANGE = 4.0
_CLAHE_CLIP = 2.0
_MIN_STRETCH_SIDE = 32
_CLAHE_TILES = (8, 8)

# A picture shown inside something (an app window, a web page, a monitor on a desk) takes a
# fraction of the copy: in the 512-px working copy of a 1280×800 screenshot it is ~200 px and
# its keypoints no longer match the work's. Where the image's detail sits in one region framed
# by flat surroundings, that region is fingerprinted again at the full working size and its
# keypoints join the image's (mapped into its working frame). The region is found on a copy of
# this long edge: pixels whose 3×3 neighbourhood varies by more than _FLAT_STEP grey levels in
# some channel are detail, flat chrome and margins are not.
_REGION_EDGE = 256
_FLAT_STEP = 6
# The region's outline must be mostly detail (a picture, not the rule around a sidebar), at
# most this share of the image (smaller zooms gain little over the whole copy), and large
# enough to hold a picture rather than a button.
_MIN_REGION_FILL = 0.5
_MAX_REGION_SHARE = 0.5
_MIN_REGION_SIDE = MIN_FEATURE_SIDE
# Every image is also fingerprinted at this fraction of the working size, with this many more
# keypoints: a crop keeping half of each side is magnified 2× in its own working copy, so its
# features at full working size are finer than any of the work's, and a match fails for want of
# shared scales (crop recall at keep=0.5: 0.625). At half size they are at the work's scale
# (0.958). 200 kept most of the gain of 500 at a fraction of the matching time.
_COARSE_FACTOR = 0.5
_COARSE_KEYPOINTS = 200

LOWE_RATIO = 0.75
RANSAC_REPROJECTION_PX = 4.0
# Wrong candidates peaked at 9 inliers, true copies at 100-250 (shared/FACTS.md).
MIN_INLIERS = 15

_MAGIC = b"CRFP"
_HEADER = struct.Struct("<4sBQQQIIHH")
_DESCRIPTOR_BYTES = 32


def _empty_points() -> np.ndarray:
    return np.zeros((0, 2), dtype=np.float32)


def _empty_descriptors() -> np.ndarray:
    return np.zeros((0, _DESCRIPTOR_BYTES), dtype=np.uint8)


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """What is stored per image. Points are in the working frame (long edge `WORKING_EDGE`).

    `mirrored_points` / `mirrored_descriptors` are ORB features of the horizontally mirrored
    image, with x mapped back into the unmirrored frame: ORB descriptors are not mirror
    invariant, so a flipped copy can only be verified when one side carries them. Queries need
    them; registry entries may leave them out to halve their size.
    """

    phash: int
    dhash: int
    phash_flipped: int
    width: int
    height: int
    points: np.ndarray = field(default_factory=_empty_points)
    descriptors: np.ndarray = field(default_factory=_empty_descriptors)
    mirrored_points: np.ndarray = field(default_factory=_empty_points)
    mirrored_descriptors: np.ndarray = field(default_factory=_empty_descriptors)

    def __post_init__(self) -> None:
        for name in ("points", "descriptors", "mirrored_points", "mirrored_descriptors"):
            getattr(self, name).setflags(write=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fingerprint) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash((self.phash, self.dhash, self.phash_flipped, self.width, self.height))

    @property
    def working_scale(self) -> float:
        """Working-frame pixels per original pixel."""
        return WORKING_EDGE / max(self.width, self.height)

    def without_mirror(self) -> Fingerprint:
        return Fingerprint(self.phash, self.dhash, self.phash_flipped, self.width, self.height, self.points, self.descriptors)

    def to_bytes(self) -> bytes:
        """Compact form: a 42-byte header, then 36 bytes per keypoint (~25 KB for a photo's 700
        keypoints, ~50 KB mirrored; up to ~43 / ~86 KB with a framed picture's region)."""
        header = _HEADER.pack(
            _MAGIC,
            FINGERPRINT_VERSION,
            self.phash,
            self.dhash,
            self.phash_flipped,
            self.width,
            self.height,
            len(self.points),
            len(self.mirrored_points),
        )
        parts = [header]
        for points, descriptors in ((self.points, self.descriptors), (self.mirrored_points, self.mirrored_descriptors)):
            fixed = np.clip(np.rint(points * _COORD_SCALE), 0, 65535).astype("<u2")
            parts += [fixed.tobytes(), np.ascontiguousarray(descriptors, dtype=np.uint8).tobytes()]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        if len(data) < _HEADER.size:
            raise ValueError("not a fingerprint: too short")
        magic, version, phash, dhash, flipped, width, height, count, mirrored_count = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not a fingerprint: bad magic")
        if version not in _READABLE_VERSIONS:
            raise ValueError(f"fingerprint version {version}, this code reads {FINGERPRINT_VERSION}: recompute it")
        expected = _HEADER.size + (count + mirrored_count) * (4 + _DESCRIPTOR_BYTES)
        if len(data) != expected:
            raise ValueError(f"fingerprint is {len(data)} bytes, its header says {expected}")
        offset = _HEADER.size
        arrays: list[np.ndarray] = []
        for n in (count, mirrored_count):
            points = np.frombuffer(data, dtype="<u2", count=n * 2, offset=offset).reshape(n, 2)
            offset += n * 4
            descriptors = np.frombuffer(data, dtype=np.uint8, count=n * _DESCRIPTOR_BYTES, offset=offset)
            offset += n * _DESCRIPTOR_BYTES
            arrays += [(points.astype(np.float32) / _COORD_SCALE), descriptors.reshape(n, _DESCRIPTOR_BYTES).copy()]
        return cls(phash, dhash, flipped, width, height, *arrays)


def _hash_int(value: imagehash.ImageHash) -> int:
    return int(str(value), 16)


def _spread(keypoints: list[cv2.KeyPoint], width: int, height: int, budget: int) -> list[int]:
    """Indices of up to `budget` keypoints, taken round-robin from a grid by response.

    Plain ORB keeps the strongest corners wherever they are, so a text overlay or a logo (all
    sharp corners) takes most of the budget and the picture underneath loses its keypoints.
    """
    cells: dict[tuple[int, int], list[int]] = {}
    for index in sorted(range(len(keypoints)), key=lambda i: -keypoints[i].response):
        x, y = keypoints[index].pt
        cell = (min(_GRID - 1, int(x * _GRID / width)), min(_GRID - 1, int(y * _GRID / height)))
        cells.setdefault(cell, []).append(index)
    chosen: list[int] = []
    queues = list(cells.values())
    depth = 0
    while len(chosen) < budget and any(depth < len(queue) for queue in queues):
        chosen += [queue[depth] for queue in queues if depth < len(queue)][: budget - len(chosen)]
        depth += 1
    return chosen


def _orb(gray: np.ndarray, fast_threshold: int) -> tuple[list[cv2.KeyPoint], np.ndarray | None]:
    orb = cv2.ORB.create(nfeatures=_ORB_POOL, edgeThreshold=_ORB_EDGE_THRESHOLD, fastThreshold=fast_threshold)
    keypoints, descriptors = orb.detectAndCompute(gray, None)
    return list(keypoints), descriptors


def _stretched(rgb: np.ndarray) -> np.ndarray | None:
    """The image projected on its main colour axis, stretched to 0-255, then CLAHE; None when
    the image is flat along that axis (nothing there to find)."""
    if rgb.shape[0] < _MIN_STRETCH_SIDE or rgb.shape[1] < _MIN_STRETCH_SIDE:
        return None  # ORB finds nothing this small anyway
    pixels = rgb.reshape(-1, 3).astype(np.float32)
    mean = pixels.mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov((pixels - mean).T))
    axis = vectors[:, -1] * (1.0 if vectors[:, -1].sum() >= 0 else -1.0)
    projected = (rgb.astype(np.float32) - mean) @ axis
    low, high = np.percentile(projected, [0.5, 99.5])
    if high - low < _MIN_STRETCH_RANGE:
        return None
    stretched = np.clip((projected - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)
    return cv2.createCLAHE(clipLimit=_CLAHE_CLIP, tileGridSize=_CLAHE_TILES).apply(stretched)


def _orb_features(gray: np.ndarray, colour: Callable[[], np.ndarray], budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to `budget` spread keypoints of `gray` (the working-size luminance), topped up from
    the contrast-stretched `colour()` (the same frame in RGB) when luminance alone has too few."""
    keypoints, descriptors = _orb(gray, 20)
    if len(keypoints) < budget:
        # Low-contrast photos (a clock face, a fundus scan) give few corners at FAST's default
        # threshold of 20; a lower one finds enough to verify a crop of them.
        keypoints, descriptors = _orb(gray, 5)
    chosen = _spread(keypoints, gray.shape[1], gray.shape[0], budget) if descriptors is not None else []
    points = [keypoints[i].pt for i in chosen]
    rows = [descriptors[i] for i in chosen] if descriptors is not None else []
    if len(chosen) < budget:
        stretched = _stretched(colour())
        extra, extra_descriptors = _orb(stretched, 5) if stretched is not None else ([], None)
        if extra_descriptors is not None:
            for i in _spread(extra, gray.shape[1], gray.shape[0], budget)[: budget - len(chosen)]:
                points.append(extra[i].pt)
                rows.append(extra_descriptors[i])
    if not points:
        return _empty_points(), _empty_descriptors()
    return np.array(points, dtype=np.float32), np.ascontiguousarray(np.array(rows, dtype=np.uint8))


def content_region(rgb: Image.Image) -> tuple[int, int, int, int] | None:
    """The box (left, top, right, bottom, in the image's pixels) of the one framed region that
    holds the image's detail, or None when the detail fills the image (most photos) or is
    scattered (text, UI without a picture).

    Detail pixels are closed into blobs, and each blob's outer contour is filled: a picture is
    one solid blob, a sidebar of labels is many small ones, and the hairline rules between
    panes fill to almost nothing."""
    width, height = rgb.size
    scale = min(1.0, _REGION_EDGE / max(width, height))
    small = np.asarray(rgb.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BILINEAR))
    kernel = np.ones((3, 3), np.uint8)
    step = np.max([cv2.morphologyEx(np.ascontiguousarray(small[..., c]), cv2.MORPH_GRADIENT, kernel) for c in range(3)], axis=0)
    detail = cv2.morphologyEx((step > _FLAT_STEP).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(detail, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best: tuple[float, tuple[int, int, int, int]] | None = None
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        filled = cv2.contourArea(contour)
        if filled >= _MIN_REGION_FILL * w * h and (best is None or filled > best[0]):
            best = (filled, (x, y, w, h))
    if best is None:
        return None
    x, y, w, h = best[1]
    if w * h > _MAX_REGION_SHARE * small.shape[0] * small.shape[1]:
        return None
    box = (
        max(0, math.floor(x / scale)),
        max(0, math.floor(y / scale)),
        min(width, math.ceil((x + w) / scale)),
        min(height, math.ceil((y + h) / scale)),
    )
    if min(box[2] - box[0], box[3] - box[1]) < _MIN_REGION_SIDE:
        return None
    return box


def _normalised(image: Image.Image) -> Image.Image:
    # Palette, 16-bit, alpha and bilevel images all hash and match as what a viewer shows.
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = array.max() or 1.0
        return Image.fromarray((array / top * 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def as_viewed_rgb(image: Image.Image) -> Image.Image:
    """The image as a viewer shows it, in RGB: EXIF orientation applied, alpha over white."""
    return _normalised(ImageOps.exif_transpose(image) or image)


def working_size(width: int, height: int) -> tuple[int, int]:
    """The size of the copy keypoints are found on: long edge WORKING_EDGE, each side ≥ 1."""
    scale = WORKING_EDGE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def has_features(width: int, height: int) -> bool:
    """Whether an image of this size gets the feature stages (keypoints; an embedding where a
    model is configured): its working copy's short side is at least MIN_FEATURE_SIDE."""
    return min(working_size(width, height)) >= MIN_FEATURE_SIDE


def fingerprint_image(image: Image.Image, *, include_mirror: bool = True) -> Fingerprint:
    """Fingerprint a decoded image of any size: ~25-35 ms for a 512² photo on one core, about
    twice with the mirror; hashes only for an image too thin for keypoints (has_features)."""
    rgb = as_viewed_rgb(image)
    width, height = rgb.size
    # The hashes and the keypoints read the grey image (imagehash converts to L itself): one
    # conversion of the full-size pixels serves them all, with the same values.
    gray = rgb.convert("L")
    size = working_size(width, height)
    points, descriptors = _empty_points(), _empty_descriptors()
    mirrored_points, mirrored_descriptors = _empty_points(), _empty_descriptors()
    if has_features(width, height):
        points, descriptors, mirrored_points, mirrored_descriptors = _features(
            rgb, size, include_mirror=include_mirror, gray=gray
        )
    return Fingerprint(
        phash=_hash_int(imagehash.phash(gray)),
        dhash=_hash_int(imagehash.dhash(gray)),
        phash_flipped=_hash_int(imagehash.phash(ImageOps.mirror(gray))),
        width=width,
        height=height,
        points=points,
        descriptors=descriptors,
        mirrored_points=mirrored_points,
        mirrored_descriptors=mirrored_descriptors,
    )


def _working_features(
    rgb: Image.Image,
    size: tuple[int, int],
    *,
    include_mirror: bool,
    budget: int = MAX_KEYPOINTS,
    gray_full: Image.Image | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """ORB points and descriptors of `rgb` resized to `size`, then (if asked) of its mirror with
    x mapped back into the unmirrored frame, so a homography through those points is a flip.
    `gray_full`: `rgb` already converted to L, when the caller has it."""
    gray = np.asarray((gray_full or rgb.convert("L")).resize(size, Image.Resampling.LANCZOS))
    # The colour copy is only needed for a keypoint-poor image.
    colour = functools.cache(lambda: np.asarray(rgb.resize(size, Image.Resampling.LANCZOS)))
    found = [_orb_features(gray, colour, budget)]
    if include_mirror:
        points, descriptors = _orb_features(
            np.ascontiguousarray(gray[:, ::-1]), lambda: np.ascontiguousarray(colour()[:, ::-1]), budget
        )
        if len(points):
            points[:, 0] = (size[0] - 1) - points[:, 0]
        found.append((points, descriptors))
    return found


def _features(
    rgb: Image.Image, size: tuple[int, int], *, include_mirror: bool, gray: Image.Image | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ORB points and descriptors of the working copy, then of its mirror (empty without it),
    each with those of the half-size copy and of the zoomed content region (content_region)
    where there is one, all in the working frame: verification matches them as one set."""
    found = _working_features(rgb, size, include_mirror=include_mirror, gray_full=gray)
    # The same picture at half the working size: a crop (or any copy shown larger than the work)
    # is magnified in its working copy, and its features at this scale are at the work's own.
    coarse_size = (max(1, round(size[0] * _COARSE_FACTOR)), max(1, round(size[1] * _COARSE_FACTOR)))
    if min(coarse_size) >= MIN_FEATURE_SIDE:
        coarse = _working_features(rgb, coarse_size, include_mirror=include_mirror, budget=_COARSE_KEYPOINTS, gray_full=gray)
        found = [
            (np.concatenate([points, extra * (size[0] / coarse_size[0])]), np.concatenate([descriptors, extra_rows]))
            for (points, descriptors), (extra, extra_rows) in zip(found, coarse, strict=True)
        ]
    region = content_region(rgb)
    if region is not None:
        zoomed = rgb.crop(region)
        zoomed_size = working_size(*zoomed.size)
        # From the region's working frame into the image's: both scale the same original pixels.
        image_scale = size[0] / rgb.width
        to_image = image_scale * zoomed.width / zoomed_size[0]
        offset = np.array([region[0], region[1]], dtype=np.float32) * image_scale
        zoomed_found = _working_features(zoomed, zoomed_size, include_mirror=include_mirror)
        found = [
            (np.concatenate([points, (extra * to_image + offset).astype(np.float32)]), np.concatenate([descriptors, extra_rows]))
            for (points, descriptors), (extra, extra_rows) in zip(found, zoomed_found, strict=True)
        ]
    (points, descriptors), (mirrored_points, mirrored_descriptors) = (*found, (_empty_points(), _empty_descriptors()))[:2]
    return points, descriptors, mirrored_points, mirrored_descriptors


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@dataclass(frozen=True)
class Geometry:
    """How a query maps onto a reference, from the homography (query pixels → reference pixels).

    `scale` is the query's size relative to the reference (0.7 for a copy resized to 70%),
    `covered` the fraction of the reference's area that the query shows (0.72 for an 85% crop).
    """

    homography: tuple[tuple[float, float, float], ...]
    scale: float
    flipped: bool
    rotation_degrees: float
    translation: tuple[float, float]
    covered: float

    @property
    def transforms(self) -> tuple[str, ...]:
        names = []
        if self.flipped:
            names.append("flip")
        if abs(self.scale - 1.0) > 0.05:
            names.append("scale")
        if abs(self.rotation_degrees) > 2.0:
            names.append("rotate")
        if self.covered < 0.95:
            names.append("crop")
        return tuple(names) or ("identity",)


@dataclass(frozen=True)
class Verification:
    inliers: int
    matches: int
    geometry: Geometry


def _one_to_one_ratio_matches(query: np.ndarray, reference: np.ndarray) -> list[tuple[int, int]]:
    if len(query) < 2 or len(reference) < 2:
        return []
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    best: dict[int, tuple[float, int]] = {}
    for pair in matcher.knnMatch(query, reference, k=2):
        if len(pair) < 2:
            continue
        first, second = pair
        if first.distance < LOWE_RATIO * second.distance:
            # One-to-one: a reference keypoint claimed by several query keypoints keeps only its
            # best; without this, repetitive texture piles up false inliers (FACTS: up to 46).
            held = best.get(first.trainIdx)
            if held is None or first.distance < held[0]:
                best[first.trainIdx] = (first.distance, first.queryIdx)
    return [(query_index, train_index) for train_index, (_, query_index) in best.items()]


def _geometry(homography: np.ndarray, query: Fingerprint, reference: Fingerprint) -> Geometry:
    to_query_work = np.diag([query.working_scale, query.working_scale, 1.0])
    from_reference_work = np.diag([1 / reference.working_scale, 1 / reference.working_scale, 1.0])
    h = from_reference_work @ homography @ to_query_work
    h = h / h[2, 2]
    linear = h[:2, :2]
    determinant = float(np.linalg.det(linear))
    flipped = determinant < 0
    reference_per_query = math.sqrt(abs(determinant)) or 1.0
    unflipped = linear @ np.diag([-1.0, 1.0]) if flipped else linear
    rotation = math.degrees(math.atan2(unflipped[1, 0], unflipped[0, 0]))
    # The share of a grid over the reference that lands inside the query: exact polygon
    # intersection is degenerate when the query is the whole reference (shared edges).
    xs, ys = np.meshgrid(np.linspace(0.5, reference.width - 0.5, 32), np.linspace(0.5, reference.height - 0.5, 32))
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64).reshape(-1, 1, 2)
    in_query = cv2.perspectiveTransform(grid, np.linalg.inv(h)).reshape(-1, 2)
    tolerance = 0.01 * max(query.width, query.height)
    inside = (
        (in_query[:, 0] >= -tolerance)
        & (in_query[:, 0] <= query.width + tolerance)
        & (in_query[:, 1] >= -tolerance)
        & (in_query[:, 1] <= query.height + tolerance)
    )
    return Geometry(
        homography=tuple((float(row[0]), float(row[1]), float(row[2])) for row in h),
        scale=1.0 / reference_per_query,
        flipped=flipped,
        rotation_degrees=rotation,
        translation=(float(h[0, 2]), float(h[1, 2])),
        covered=float(inside.mean()),
    )


def _verify_with(
    points: np.ndarray, descriptors: np.ndarray, query: Fingerprint, reference: Fingerprint, min_inliers: int
) -> Verification | None:
    pairs = _one_to_one_ratio_matches(descriptors, reference.descriptors)
    if len(pairs) < min_inliers:
        return None
    source = np.array([points[q] for q, _ in pairs], dtype=np.float32).reshape(-1, 1, 2)
    target = np.array([reference.points[r] for _, r in pairs], dtype=np.float32).reshape(-1, 1, 2)
    homography, mask = cv2.findHomography(source, target, cv2.RANSAC, RANSAC_REPROJECTION_PX)
    if homography is None or mask is None:
        return None
    inliers = int(mask.sum())
    if inliers < min_inliers or abs(np.linalg.det(homography[:2, :2])) < 1e-3:
        return None
    return Verification(inliers=inliers, matches=len(pairs), geometry=_geometry(homography, query, reference))


def verify(
    query: Fingerprint, reference: Fingerprint, *, flipped_first: bool = False, min_inliers: int = MIN_INLIERS
) -> Verification | None:
    """Whether `query` shows (part of) `reference`: ≥ `min_inliers` keypoints agree on one homography.

    Tries the query's own features, then its mirrored ones (a flipped copy); `flipped_first`
    swaps the order when the hashes already suggest a flip. `min_inliers` is for measuring the
    threshold curve (auditing/evaluation/near_duplicate.py); the auditor keeps MIN_INLIERS.
    """
    attempts = [(query.points, query.descriptors), (query.mirrored_points, query.mirrored_descriptors)]
    if flipped_first:
        attempts.reverse()
    best: Verification | None = None
    for points, descriptors in attempts:
        found = _verify_with(points, descriptors, query, reference, min_inliers)
        if found is not None and (best is None or found.inliers > best.inliers):
            best = found
            if found.inliers >= 4 * MIN_INLIERS:
                break
    return best
