"""The near-duplicate detector on third-party photos (scikit-image's bundled data), no mocks."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageOps
from skimage import data as skimage_data

from auditing.similarity.near_duplicate import (
    FINGERPRINT_VERSION,
    MIN_FEATURE_SIDE,
    Fingerprint,
    NearDuplicateIndex,
    content_region,
    fingerprint_image,
    has_features,
    verify,
)

INDEXED = ["astronaut", "coffee", "chelsea", "camera", "immunohistochemistry", "hubble_deep_field"]
UNRELATED = ["rocket", "coins", "moon", "brick", "page", "gravel"]


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage_data, name)())


def jpeg_60(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=60)
    return Image.open(io.BytesIO(buffer.getvalue()))


def resize_70(image: Image.Image) -> Image.Image:
    return image.resize((round(image.width * 0.7), round(image.height * 0.7)), Image.Resampling.BICUBIC)


def crop_85(image: Image.Image) -> Image.Image:
    width, height = round(image.width * 0.85), round(image.height * 0.85)
    left, top = (image.width - width) // 3, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def brightness_115(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image.convert("RGB")).enhance(1.15)


def text_overlay(image: Image.Image) -> Image.Image:
    out = image.convert("RGB")
    ImageDraw.Draw(out).text(
        (out.width // 20, out.height // 2), "© SAMPLE 2026", fill=(255, 255, 0), font_size=max(12, out.height // 10)
    )
    return out


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg_q60": jpeg_60,
    "resize_70": resize_70,
    "crop_85": crop_85,
    "flip": ImageOps.mirror,
    "brightness_115": brightness_115,
    "text_overlay": text_overlay,
}


@pytest.fixture(scope="module")
def registry() -> NearDuplicateIndex:
    index = NearDuplicateIndex()
    for name in INDEXED:
        index.add(name, fingerprint_image(photo(name), include_mirror=False))
    return index


@pytest.fixture(scope="module")
def astronaut_fingerprint() -> Fingerprint:
    return fingerprint_image(photo("astronaut"))


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("name", ["astronaut", "coffee", "camera"])
def test_every_transformed_copy_of_a_registered_photo_is_found_with_its_key(
    registry: NearDuplicateIndex, name: str, transform: str
) -> None:
    matches = registry.query(fingerprint_image(TRANSFORMS[transform](photo(name))))

    assert [match.key for match in matches] == [name]
    assert matches[0].inliers >= 15


@pytest.mark.parametrize("name", UNRELATED)
def test_an_unrelated_photo_matches_nothing_in_the_registry(registry: NearDuplicateIndex, name: str) -> None:
    assert registry.query(fingerprint_image(photo(name))) == []


def test_registered_photos_do_not_match_each_other(registry: NearDuplicateIndex) -> None:
    for name in INDEXED:
        assert [match.key for match in registry.query(registry.fingerprint(name), k=10)] == [name]


def test_generated_noise_gradients_and_checkerboards_match_nothing(registry: NearDuplicateIndex) -> None:
    rng = np.random.default_rng(3)
    x = np.linspace(0, 255, 400)[None, :, None]
    yy, xx = np.mgrid[0:300, 0:400]
    images = [
        rng.integers(0, 256, (300, 400, 3), dtype=np.uint8),
        rng.integers(0, 256, (512, 512), dtype=np.uint8),
        np.broadcast_to(x, (300, 400, 3)).astype(np.uint8),
        ((xx // 25 + yy // 25) % 2 * 255).astype(np.uint8),
        np.full((256, 256, 3), (30, 120, 200), dtype=np.uint8),
    ]
    for array in images:
        assert registry.query(fingerprint_image(Image.fromarray(array))) == []


def test_a_match_explains_a_flip(registry: NearDuplicateIndex) -> None:
    match = registry.query(fingerprint_image(ImageOps.mirror(photo("coffee"))))[0]

    assert match.transforms == ("flip",)
    assert match.geometry is not None and match.geometry.flipped


def test_a_match_explains_a_resize_with_its_scale(registry: NearDuplicateIndex) -> None:
    match = registry.query(fingerprint_image(resize_70(photo("camera"))))[0]

    assert match.transforms == ("scale",)
    assert match.geometry is not None and match.geometry.scale == pytest.approx(0.7, abs=0.02)


def test_a_match_explains_a_crop_with_the_share_of_the_original_it_shows(registry: NearDuplicateIndex) -> None:
    match = registry.query(fingerprint_image(crop_85(photo("astronaut"))))[0]

    assert match.transforms == ("crop",)
    assert match.geometry is not None and match.geometry.covered == pytest.approx(0.85**2, abs=0.03)
    assert match.geometry.translation[0] == pytest.approx((512 - 435) // 3, abs=2)


def test_a_reencoded_copy_is_reported_as_identity_with_close_hashes(registry: NearDuplicateIndex) -> None:
    match = registry.query(fingerprint_image(jpeg_60(photo("chelsea"))))[0]

    assert match.transforms == ("identity",)
    assert match.phash_distance <= 4 and match.method == "keypoints"


def test_a_fingerprint_survives_bytes_unchanged(astronaut_fingerprint: Fingerprint) -> None:
    data = astronaut_fingerprint.to_bytes()
    restored = Fingerprint.from_bytes(data)

    assert restored == astronaut_fingerprint
    assert restored.phash == astronaut_fingerprint.phash and len(restored.descriptors) == 700
    assert np.abs(restored.points - astronaut_fingerprint.points).max() <= 1 / 64
    assert verify(restored, astronaut_fingerprint) is not None


def test_a_fingerprint_is_compact(astronaut_fingerprint: Fingerprint) -> None:
    # 500 keypoints of the working copy and 200 of its half-size copy, 36 bytes each.
    assert len(astronaut_fingerprint.to_bytes()) <= 51_000
    assert len(astronaut_fingerprint.without_mirror().to_bytes()) <= 25_500


def test_a_fingerprint_of_another_version_is_refused(astronaut_fingerprint: Fingerprint) -> None:
    data = bytearray(astronaut_fingerprint.to_bytes())
    data[4] = FINGERPRINT_VERSION + 1

    with pytest.raises(ValueError, match="version"):
        Fingerprint.from_bytes(bytes(data))
    with pytest.raises(ValueError):
        Fingerprint.from_bytes(astronaut_fingerprint.to_bytes()[:-1])


def test_a_fingerprint_is_frozen(astronaut_fingerprint: Fingerprint) -> None:
    with pytest.raises(AttributeError):
        astronaut_fingerprint.phash = 0  # type: ignore[misc]
    with pytest.raises(ValueError):
        astronaut_fingerprint.descriptors[0, 0] = 0


def test_images_with_alpha_palette_or_one_channel_are_fingerprinted() -> None:
    for image in (
        photo("logo"),
        photo("camera"),
        photo("coffee").convert("P"),
        Image.fromarray(np.asarray(photo("camera")).astype(np.uint16) * 256),
    ):
        assert fingerprint_image(image).width == image.width


def test_a_keypoint_poor_image_is_matched_on_its_hashes_alone() -> None:
    gradient = Image.fromarray(np.broadcast_to(np.linspace(0, 255, 320)[None, :, None], (240, 320, 3)).astype(np.uint8))
    index = NearDuplicateIndex()
    index.add("gradient", fingerprint_image(gradient))

    (match,) = index.query(fingerprint_image(jpeg_60(gradient)))

    assert match.key == "gradient" and match.method == "hash" and match.inliers == 0


EXTREME_SHAPES = {
    "1x1": (1, 1),
    "1xN": (1, 900),
    "Nx1": (900, 1),
    "2xN": (2, 900),
    "Nx2": (900, 2),
    "3000x3": (3000, 3),
    "3x3000": (3, 3000),
    "10000x1": (10000, 1),
}


@pytest.mark.parametrize("size", EXTREME_SHAPES.values(), ids=EXTREME_SHAPES)
def test_an_image_of_any_shape_is_fingerprinted(size: tuple[int, int]) -> None:
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))

    fingerprint = fingerprint_image(noise)

    assert (fingerprint.width, fingerprint.height) == size
    assert Fingerprint.from_bytes(fingerprint.to_bytes()) == fingerprint


def test_only_a_copy_too_thin_for_orb_goes_without_keypoints() -> None:
    thinnest_with_keypoints = photo("astronaut").resize((512, MIN_FEATURE_SIDE))
    too_thin = photo("astronaut").resize((512, MIN_FEATURE_SIDE - 1))

    assert has_features(*thinnest_with_keypoints.size) and len(fingerprint_image(thinnest_with_keypoints).points) > 0
    assert not has_features(*too_thin.size)
    assert len(fingerprint_image(too_thin).points) == len(fingerprint_image(too_thin).mirrored_points) == 0


@pytest.mark.parametrize("size", [(3000, 10), (10, 3000), (4000, 60)], ids=["3000x10", "10x3000", "4000x60"])
def test_a_strip_too_thin_for_keypoints_is_matched_on_its_hashes(registry: NearDuplicateIndex, size: tuple[int, int]) -> None:
    strip = photo("astronaut").resize(size)
    assert not has_features(*size)
    index = NearDuplicateIndex()
    index.add("strip", fingerprint_image(strip))

    for copy in (strip, jpeg_60(strip)):
        (match,) = index.query(fingerprint_image(copy))
        assert (match.key, match.method, match.inliers) == ("strip", "hash", 0)
    assert registry.query(fingerprint_image(strip)) == []


def test_a_line_matches_a_lossless_copy_of_itself_and_no_other_line() -> None:
    # Under 8 px across, the hashes describe one axis only: unrelated lines of one shape came
    # within the hash-only distance in most pairs, so a line needs identical hashes.
    names = ["astronaut", "coffee", "camera", "rocket", "coins", "moon", "brick", "page"]
    lines = {f"{name}-{size}": photo(name).resize(size) for name in names for size in [(3000, 3), (3, 3000), (10000, 1)]}
    index = NearDuplicateIndex()
    index.add_many((key, fingerprint_image(line)) for key, line in lines.items())

    for key, line in lines.items():
        lossless = Image.open(io.BytesIO(_png(line)))
        assert [match.key for match in index.query(fingerprint_image(lossless), k=10)] == [key]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_images_of_other_proportions_never_match_on_their_hashes_alone() -> None:
    # A single pixel, a 1×1000 line and a flat banner all hash (nearly) to zero.
    noise = np.random.default_rng(2).integers(0, 256, (1000, 1, 3), dtype=np.uint8)
    shapes = {
        "pixel": Image.new("RGB", (1, 1), (200, 30, 30)),
        "line": Image.fromarray(noise),
        "banner": Image.new("RGB", (4000, 90), (30, 30, 200)),
    }
    index = NearDuplicateIndex()
    index.add_many((name, fingerprint_image(image)) for name, image in shapes.items())

    for name, image in shapes.items():
        assert [match.key for match in index.query(fingerprint_image(image), k=10)] == [name]


def soft_clouds(seed: int, size: int = 512) -> Image.Image:
    """Multi-scale coloured noise between two close colours: the soft texture generated art often
    has, with no corners for ORB in its luminance."""
    rng = np.random.default_rng(seed)
    field = sum(
        cv2.GaussianBlur(rng.normal(size=(size, size, 3)).astype(np.float32), (0, 0), sigma) * weight
        for sigma, weight in ((40, 1.0), (12, 0.5), (3, 0.25))
    )
    field = (field - field.min()) / (field.max() - field.min())
    low = rng.uniform(60, 190, 3)
    high = low + rng.uniform(-50, 50, 3)
    return Image.fromarray((low * (1 - field) + high * field).astype(np.uint8))


def test_a_soft_texture_is_verified_with_keypoints_of_its_stretched_contrast() -> None:
    index = NearDuplicateIndex()
    for seed in range(4):
        index.add(f"clouds-{seed}", fingerprint_image(soft_clouds(seed), include_mirror=False))
    luminance = np.asarray(soft_clouds(3).convert("L"))
    assert len(cv2.ORB_create(nfeatures=2000, fastThreshold=5).detect(luminance, None)) < 15  # too few to verify

    for transform in (crop_85, jpeg_60, resize_70, ImageOps.mirror):
        matches = index.query(fingerprint_image(transform(soft_clouds(3))))
        assert [match.key for match in matches] == ["clouds-3"], transform
        assert matches[0].method == "keypoints" and matches[0].inliers >= 15
    assert index.query(fingerprint_image(soft_clouds(7))) == []


def in_app_window(image: Image.Image) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """`image` shown at most 480×360 in a 1440×900 app window (title bar, a sidebar of labels,
    a hairline between panes), and where it is: in the window's 512-px working copy it is
    ~170 px wide, too small for its keypoints to match the work's."""
    canvas = Image.new("RGB", (1440, 900), (242, 242, 246))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 1440, 40), fill=(40, 44, 52))
    draw.text((18, 10), "Viewer — image.jpg", fill=(235, 235, 235), font_size=18)
    for row in range(14):
        draw.text((24, 70 + 56 * row), f"Folder {row + 1}", fill=(70, 70, 70), font_size=16)
    draw.line((240, 40, 240, 900), fill=(200, 200, 205), width=1)
    shown = image.convert("RGB")
    shown.thumbnail((480, 360))
    canvas.paste(shown, (600, 260))
    return canvas, (600, 260, 600 + shown.width, 260 + shown.height)


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_a_picture_shown_inside_an_app_window_is_found(registry: NearDuplicateIndex, name: str) -> None:
    window, _ = in_app_window(photo(name))

    matches = registry.query(fingerprint_image(window))

    assert [match.key for match in matches] == [name]


@pytest.mark.parametrize("name", ["rocket", "brick"])
def test_an_unrelated_picture_in_the_same_window_matches_nothing(registry: NearDuplicateIndex, name: str) -> None:
    window, _ = in_app_window(photo(name))

    assert registry.query(fingerprint_image(window)) == []


def test_the_framed_region_is_the_picture_and_a_plain_photo_has_none() -> None:
    window, shown = in_app_window(photo("coffee"))

    region = content_region(window)

    # The picture with a margin of a few pixels of its 256-px detection copy (1 px ≈ 5.6 here).
    assert region is not None
    outside = np.array([shown[0] - region[0], shown[1] - region[1], region[2] - shown[2], region[3] - shown[3]])
    assert (outside >= 0).all() and (outside <= 16).all()
    assert content_region(photo("astronaut")) is None


@pytest.fixture(scope="module")
def brick_registry() -> NearDuplicateIndex:
    index = NearDuplicateIndex()
    index.add("brick", fingerprint_image(photo("brick"), include_mirror=False))
    return index


@pytest.mark.parametrize("corner", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_a_crop_keeping_half_of_each_side_of_a_textured_photo_is_found(
    brick_registry: NearDuplicateIndex, corner: tuple[int, int]
) -> None:
    # Magnified 2× in its working copy: found by the keypoints of its half-size copy.
    brick = photo("brick")
    width, height = brick.width // 2, brick.height // 2
    left, top = corner[0] * width, corner[1] * height

    matches = brick_registry.query(fingerprint_image(brick.crop((left, top, left + width, top + height))))

    assert [match.key for match in matches] == ["brick"]
    assert matches[0].geometry is not None and matches[0].geometry.covered == pytest.approx(0.25, abs=0.05)


def test_a_version_1_fingerprint_is_still_read(astronaut_fingerprint: Fingerprint) -> None:
    # Version 2 changed only keypoint-poor images; the layout is the same.
    data = bytearray(astronaut_fingerprint.to_bytes())
    data[4] = 1

    assert Fingerprint.from_bytes(bytes(data)) == astronaut_fingerprint


def test_an_entry_of_version_2_still_finds_a_half_crop_of_its_work() -> None:
    # Version 2 held only the working copy's keypoints (the first 500 of version 3): the query's
    # half-size keypoints are what match a crop, so entries not yet recomputed keep working.
    brick = photo("brick")
    current = fingerprint_image(brick, include_mirror=False)
    version_2 = Fingerprint(
        current.phash, current.dhash, current.phash_flipped, current.width, current.height,
        current.points[:500], current.descriptors[:500],
    )  # fmt: skip
    index = NearDuplicateIndex()
    index.add("brick", version_2)

    matches = index.query(fingerprint_image(brick.crop((0, 0, brick.width // 2, brick.height // 2))))

    assert [match.key for match in matches] == ["brick"]


def test_a_removed_entry_is_no_longer_found(astronaut_fingerprint: Fingerprint) -> None:
    index = NearDuplicateIndex()
    index.add("astronaut", astronaut_fingerprint)
    index.add("coffee", fingerprint_image(photo("coffee")))
    assert index.query(astronaut_fingerprint)

    index.remove("astronaut")

    assert index.query(astronaut_fingerprint) == []
    assert len(index) == 1 and "astronaut" not in index


def test_adding_a_key_again_replaces_its_fingerprint(astronaut_fingerprint: Fingerprint) -> None:
    index = NearDuplicateIndex()
    index.add("work-1", astronaut_fingerprint)
    index.add("work-1", fingerprint_image(photo("coffee")))

    assert index.query(astronaut_fingerprint) == []
    assert len(index) == 1


def test_a_saved_index_loads_and_answers_the_same(tmp_path: Path, registry: NearDuplicateIndex) -> None:
    path = tmp_path / "registry.ndx"
    registry.save(path)

    loaded = NearDuplicateIndex.load(path)
    query = fingerprint_image(crop_85(photo("immunohistochemistry")))

    assert sorted(loaded.keys()) == sorted(registry.keys())
    # Stored keypoints are rounded to 1/64 pixel, so the homography may differ in the last digits.
    assert [(m.key, m.transforms) for m in loaded.query(query)] == [(m.key, m.transforms) for m in registry.query(query)]
    assert [p.name for p in tmp_path.iterdir()] == ["registry.ndx"]


def test_saving_over_an_index_replaces_it_whole(tmp_path: Path, astronaut_fingerprint: Fingerprint) -> None:
    path = tmp_path / "registry.ndx"
    first = NearDuplicateIndex()
    first.add("a", astronaut_fingerprint)
    first.save(path)
    second = NearDuplicateIndex()
    second.save(path)

    assert len(NearDuplicateIndex.load(path)) == 0


def test_an_index_file_of_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "registry.ndx"
    NearDuplicateIndex().save(path)
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 8, 99)
    path.write_bytes(bytes(data))

    with pytest.raises(ValueError, match="version"):
        NearDuplicateIndex.load(path)


def test_hash_candidates_find_a_copy_among_ten_thousand_random_entries(astronaut_fingerprint: Fingerprint) -> None:
    rng = np.random.default_rng(5)
    index = NearDuplicateIndex()
    index.add_many(
        (f"random-{i}", Fingerprint(int(p), int(d), int(f), 512, 512))
        for i, (p, d, f) in enumerate(rng.integers(0, 2**62, (10_000, 3)))
    )
    index.add("astronaut", astronaut_fingerprint)

    candidates = index.candidates(fingerprint_image(ImageOps.mirror(photo("astronaut"))), votes=False)

    assert candidates[0].key == "astronaut" and candidates[0].flipped_hash
    assert [m.key for m in index.query(fingerprint_image(jpeg_60(photo("astronaut"))))] == ["astronaut"]


def test_descriptor_votes_also_work_from_an_inverted_file() -> None:
    index = NearDuplicateIndex(ivf_threshold=1_000)
    for name in ("astronaut", "coffee", "rocket"):
        index.add(name, fingerprint_image(photo(name)))

    candidates = index.candidates(fingerprint_image(crop_85(photo("rocket"))))

    assert candidates[0].key == "rocket" and candidates[0].votes > 0
    assert [m.key for m in index.query(fingerprint_image(crop_85(photo("rocket"))))] == ["rocket"]


def test_an_entry_added_after_the_votes_are_built_is_found_by_its_descriptors() -> None:
    for index in (NearDuplicateIndex(), NearDuplicateIndex(ivf_threshold=1_000)):
        for name in ("astronaut", "coffee"):
            index.add(name, fingerprint_image(photo(name)))
        index.prepare_search()

        index.add("rocket", fingerprint_image(photo("rocket")))  # in place, into the built votes

        candidates = index.candidates(fingerprint_image(crop_85(photo("rocket"))), hashes=False)
        assert [c.key for c in candidates][:1] == ["rocket"] and candidates[0].votes > 0


def test_an_empty_index_finds_nothing(astronaut_fingerprint: Fingerprint) -> None:
    assert NearDuplicateIndex().query(astronaut_fingerprint) == []
