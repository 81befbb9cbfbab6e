"""The invisible watermark on third-party photos (scikit-image's), and its payload code, no mocks.

The rivaGan tests cost about a second of CPU per model pass; they are marked slow and share
the marked photos of one module fixture.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from PIL import Image, ImageEnhance, ImageOps
from skimage import data as skimage_data

from generation.watermark import (
    MAX_FALSE_POSITIVE,
    PAYLOAD_BITS,
    WATERMARK_ALGORITHM,
    WatermarkNotApplicable,
    detect_watermark,
    embed_watermark,
    read_watermark,
    watermark_algorithm,
)
from generation.watermark_payload import (
    CODE_BITS,
    MIN_DISTANCE,
    PayloadCode,
    soft_decode,
    word_bits,
)

CODE = PayloadCode(WATERMARK_ALGORITHM)
PAYLOADS = {"astronaut": 1, "coffee": 2**PAYLOAD_BITS - 1, "rocket": 0x5A5A5A}


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage_data, name)()).convert("RGB")


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def psnr(a: Image.Image, b: Image.Image) -> float:
    difference = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return float(10 * np.log10(255**2 / np.mean(difference**2)))


# --- the payload code (no model) ----------------------------------------------------------------


def test_the_payload_code_has_the_minimum_distance_it_claims():
    # Every nonzero codeword of the linear code (mask removed), enumerated as lo ^ hi halves.
    rows = [CODE.encode(1 << i) ^ CODE.mask for i in range(PAYLOAD_BITS)]
    low, high = np.zeros(1, np.uint64), np.zeros(1, np.uint64)
    for row in rows[:12]:
        low = np.concatenate([low, low ^ np.uint64(row)])
    for row in rows[12:]:
        high = np.concatenate([high, high ^ np.uint64(row)])
    weights = np.bitwise_count(low[None, :] ^ high[:, None]).ravel()[1:]
    assert int(weights.min()) == MIN_DISTANCE == 16
    # The mask keeps the all-zero and all-one words (what flat images decode to) far from ours.
    distances = np.bitwise_count(low[None, :] ^ high[:, None] ^ np.uint64(CODE.mask))
    assert int(distances.min()) >= 10 and int((CODE_BITS - distances).min()) >= 10


def test_every_payload_maps_to_one_word_and_back():
    for payload in (0, 1, 4242, 0x5A5A5A, 2**PAYLOAD_BITS - 1):
        word = CODE.encode(payload)
        assert CODE.payload_of(word) == payload
        assert CODE.payload_of(word ^ 1) is None
    with pytest.raises(ValueError):
        CODE.encode(2**PAYLOAD_BITS)
    with pytest.raises(ValueError):
        CODE.encode(-1)


def test_a_different_algorithm_name_gives_different_words():
    assert PayloadCode("org.example.other.1").encode(4242) != CODE.encode(4242)


def test_soft_decoding_flips_weak_bits_but_not_strong_ones():
    signs = word_bits(CODE.encode(123456)).astype(np.float64) * 2 - 1
    rng = np.random.default_rng(0)
    scores = signs * rng.uniform(0.8, 3.0, CODE_BITS)
    scores[[3, 17, 40]] *= -0.05  # three weak errors
    decoded = soft_decode(CODE, scores, max_false_positive=MAX_FALSE_POSITIVE)
    assert decoded is not None and decoded.payload == 123456 and decoded.flipped_bits == 3
    assert decoded.false_positive_bound <= MAX_FALSE_POSITIVE

    scores[[3, 17, 40]] *= 40  # the same errors, confidently wrong: a different mark, not ours
    assert soft_decode(CODE, scores, max_false_positive=MAX_FALSE_POSITIVE) is None


def test_random_words_and_degenerate_words_are_never_accepted():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        scores = rng.normal(size=CODE_BITS) * rng.uniform(0.1, 50)
        assert soft_decode(CODE, scores, max_false_positive=MAX_FALSE_POSITIVE) is None
    half = rng.normal(size=CODE_BITS // 2)
    for scores in (np.ones(CODE_BITS), -np.ones(CODE_BITS), np.zeros(CODE_BITS), np.concatenate([half, half])):
        assert soft_decode(CODE, scores, max_false_positive=MAX_FALSE_POSITIVE) is None


# --- refusals (no model pass) -------------------------------------------------------------------


def test_images_too_small_or_too_elongated_are_refused():
    for size in ((200, 200), (64, 64), (2048, 40)):
        with pytest.raises(WatermarkNotApplicable):
            embed_watermark(photo("astronaut").resize(size), 7)


def test_a_payload_out_of_range_is_refused():
    with pytest.raises(ValueError):
        embed_watermark(photo("astronaut"), 2**PAYLOAD_BITS)


def test_a_thumbnail_is_not_searched_for_a_mark():
    assert detect_watermark(photo("astronaut").resize((100, 100))) is None


def test_an_unknown_backend_is_refused(settings):
    settings.CLEANROOM_WATERMARK = {"BACKEND": "dwtDct"}
    with pytest.raises(ImproperlyConfigured, match="dwtDct"):
        embed_watermark(photo("astronaut"), 7)


def test_an_unknown_backend_names_the_setting_and_the_known_backends_wherever_it_is_used(settings):
    settings.CLEANROOM_WATERMARK = {"BACKEND": "dwtDct"}
    expected = r"CLEANROOM_WATERMARK\['BACKEND'\]: unknown watermark backend 'dwtDct'; known: rivagan, rivagan-v1, trustmark"
    for use in (lambda: detect_watermark(photo("astronaut")), watermark_algorithm, lambda: read_watermark(photo("coffee"))):
        with pytest.raises(ImproperlyConfigured, match=expected):
            use()


def test_a_class_that_is_not_a_watermark_backend_is_refused(settings):
    settings.CLEANROOM_WATERMARK = {"BACKEND": "generation.watermarks.base.WatermarkHit"}
    with pytest.raises(ImproperlyConfigured, match=r"is not a generation\.watermarks\.base\.WatermarkBackend"):
        embed_watermark(photo("astronaut"), 7)


def test_the_default_backend_is_rivagan_by_name_or_by_path(settings):
    assert watermark_algorithm() == WATERMARK_ALGORITHM
    settings.CLEANROOM_WATERMARK = {"BACKEND": "generation.watermarks.rivagan.RivaGanWatermark"}
    assert watermark_algorithm() == WATERMARK_ALGORITHM


# --- rivaGan on photos --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def marked() -> dict[str, tuple[Image.Image, Image.Image]]:
    """Original and marked: astronaut 512², coffee 600×400, rocket 640×427 (each downscaled to the
    working area for the encoder, the residual brought back to full size)."""
    originals = {"astronaut": photo("astronaut"), "coffee": photo("coffee"), "rocket": photo("rocket")}
    return {name: (image, embed_watermark(image, PAYLOADS[name])) for name, image in originals.items()}


@pytest.mark.slow
def test_marked_photos_keep_their_size_and_look_the_same(marked):
    for original, image in marked.values():
        assert image.size == original.size and image.mode == "RGB"
        assert psnr(original, image) > 38


@pytest.mark.slow
def test_the_exact_payload_reads_back_from_marked_photos(marked):
    hit = detect_watermark(marked["astronaut"][1])
    assert hit is not None and hit.payload == PAYLOADS["astronaut"]
    assert not hit.mirrored and hit.false_positive_bound <= MAX_FALSE_POSITIVE and hit.backend == "rivagan"
    # The copies below are not flipped: one decoder pass each, without the mirrored attempt.
    for name in ("coffee", "rocket"):
        hit = detect_watermark(marked[name][1], try_mirror=False)
        assert hit is not None and hit.payload == PAYLOADS[name], name


@pytest.mark.slow
def test_the_mark_survives_jpeg_75(marked):
    for name in ("astronaut", "rocket"):
        hit = detect_watermark(jpeg(marked[name][1], 75), try_mirror=False)
        assert hit is not None and hit.payload == PAYLOADS[name], name


@pytest.mark.slow
def test_the_mark_survives_a_resize_to_half_and_back(marked):
    for name in ("astronaut", "rocket"):
        image = marked[name][1]
        small = image.resize((image.width // 2, image.height // 2), Image.Resampling.BICUBIC)
        hit = detect_watermark(small.resize(image.size, Image.Resampling.BICUBIC), try_mirror=False)
        assert hit is not None and hit.payload == PAYLOADS[name], name


@pytest.mark.slow
def test_a_flipped_copy_is_read_through_its_mirror_image(marked):
    hit = detect_watermark(ImageOps.mirror(marked["astronaut"][1]))
    assert hit is not None and hit.payload == PAYLOADS["astronaut"] and hit.mirrored


@pytest.mark.slow
def test_a_flat_image_is_refused_because_the_mark_does_not_read_back():
    x = np.linspace(0, 255, 512)
    gradient = Image.fromarray(np.stack([np.tile(x, (512, 1))] * 3, axis=-1).astype(np.uint8))
    with pytest.raises(WatermarkNotApplicable, match="flat"):
        embed_watermark(gradient, 7)


def unmarked_images() -> list[Image.Image]:
    """50 images that carry no mark: crops, rotations, colour shifts and rescales of photos,
    noise, gradients, flat colours, stripes."""
    rng = np.random.default_rng(7)
    names = ["astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon", "brick", "grass", "gravel"]
    images = []
    for i in range(40):
        source = photo(names[i % len(names)])
        width, height = source.size
        w, h = int(width * rng.uniform(0.5, 1.0)), int(height * rng.uniform(0.5, 1.0))
        left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        image = source.crop((left, top, left + w, top + h)).rotate(float(rng.uniform(-20, 20)), resample=Image.Resampling.BICUBIC)
        image = ImageEnhance.Color(image).enhance(float(rng.uniform(0.5, 1.5)))
        # At least the v1 working area (512²), so each is one decoder pass at one scale.
        images.append(image.resize((int(rng.integers(512, 700)), int(rng.integers(512, 700)))))
    yy, xx = np.mgrid[0:512, 0:512]
    images += [Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)) for _ in range(3)]
    images += [
        Image.fromarray(((xx * a + yy * b) % 256).astype(np.uint8)).convert("RGB") for a, b in ((1, 0), (0.3, 0.2), (0, 0.5))
    ]
    images += [Image.new("RGB", (512, 512), colour) for colour in ((0, 0, 0), (255, 255, 255))]
    images += [Image.fromarray((127 + 127 * np.sin(xx * f + yy * f / 3)).astype(np.uint8)).convert("RGB") for f in (0.05, 0.3)]
    return images


@pytest.mark.slow
def test_unmarked_photos_and_textures_are_never_reported_as_marked():
    images = unmarked_images()
    assert len(images) == 50
    for index, image in enumerate(images):
        # One attempt per image keeps this to ~50 model passes; each mirror image is just
        # one more unmarked image.
        reading = read_watermark(image, try_mirror=False)
        assert reading is not None and reading.hit() is None, index


@pytest.mark.slow
def test_model_sessions_are_loaded_once_per_process_and_not_shared_across_a_fork(marked):
    from generation.watermarks import rivagan_engines

    models = rivagan_engines.engine()
    assert rivagan_engines.engine() is models
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            # GNU OpenMP is not fork-safe: once this process ran torch's parallel regions (an
            # earlier test in the same pytest worker), the child's first one hangs (a CI run hung
            # here). One thread in the child, as torch's own DataLoader workers do; Celery's
            # prefork children fork from a parent that runs no task.
            import torch

            torch.set_num_threads(1)
            fresh = rivagan_engines.engine()
            owners = {pid for pid, _, _ in rivagan_engines._engines}
            os.write(write, b"ok" if fresh is not models and owners == {os.getpid()} else b"shared")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    assert os.read(read, 16) == b"ok"
    os.close(read)
