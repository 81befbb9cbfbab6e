"""The `trustmark` watermark backend with operator-provided model files, through the public
watermark API. TrustMark's own files cannot be downloaded here, so the files are a tiny
stand-in built from a config in code (tests/generation/tiny_trustmark.py) and laid out as an
operator lays out TrustMark's; they go through the backend's real checks and loading path.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from django.core.exceptions import ImproperlyConfigured
from PIL import Image, ImageOps
from skimage import data as skimage_data

from generation.services.bindings import soft_binding_assertions, watermark_apply
from generation.watermark import WATERMARK_ALGORITHM, detect_watermark, embed_watermark, watermark_algorithm
from generation.watermarks import trustmark as trustmark_backend
from tests.generation.tiny_trustmark import build_tiny_trustmark


def photo(name: str, size: int = 512) -> Image.Image:
    return Image.fromarray(getattr(skimage_data, name)()).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory) -> Path:
    return build_tiny_trustmark(tmp_path_factory.mktemp("trustmark"))


@pytest.fixture
def trustmark(settings, tmp_path: Path, tiny_files: Path) -> Path:
    """The backend configured on a copy of the tiny files (a test may damage its copy)."""
    directory = tmp_path / "trustmark-models"
    shutil.copytree(tiny_files, directory)
    settings.CLEANROOM_WATERMARK = {
        "BACKEND": "trustmark",
        "TRUSTMARK_MODEL_DIR": str(directory),
        "TRUSTMARK_VARIANT": "Q",
        "TRUSTMARK_ALLOW_UNPUBLISHED": True,
    }
    return directory


# --- refusals: nothing is ever downloaded -------------------------------------------------------


def test_without_a_model_folder_the_backend_is_refused(settings):
    settings.CLEANROOM_WATERMARK = {"BACKEND": "trustmark", "TRUSTMARK_MODEL_DIR": ""}
    with pytest.raises(ImproperlyConfigured, match="CLEANROOM_TRUSTMARK_MODEL_DIR"):
        embed_watermark(photo("astronaut"), 7)


def test_missing_files_are_named_and_not_fetched(trustmark: Path):
    (trustmark / "decoder_Q.ckpt").unlink()

    with pytest.raises(ImproperlyConfigured, match=r"decoder_Q\.ckpt missing"):
        embed_watermark(photo("astronaut"), 7)
    with pytest.raises(ImproperlyConfigured, match=r"decoder_Q\.ckpt missing"):
        detect_watermark(photo("astronaut"))
    assert not (trustmark / "decoder_Q.ckpt").exists()


def test_files_that_are_not_the_published_ones_are_refused_unless_allowed(settings, trustmark: Path):
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "TRUSTMARK_ALLOW_UNPUBLISHED": False}

    with pytest.raises(ImproperlyConfigured, match=r"not TrustMark's published trustmark_Q\.yaml"):
        embed_watermark(photo("astronaut"), 7)


def test_the_published_checksums_are_trustmarks_own():
    published = trustmark_backend._published_checksums()
    assert {"trustmark_Q.yaml", "encoder_Q.ckpt", "decoder_Q.ckpt", "decoder_P.ckpt"} <= published.keys()


def test_a_checkpoint_that_leaves_weights_unset_is_refused(trustmark: Path):
    torch.save({"state_dict": {}}, trustmark / "decoder_Q.ckpt")

    with pytest.raises(ImproperlyConfigured, match="decoder's weights unset"):
        detect_watermark(photo("astronaut"))


def test_a_checkpoint_holding_more_than_tensors_is_refused_when_unpublished(trustmark: Path):
    torch.save({"state_dict": {}, "callback": Path("/")}, trustmark / "encoder_Q.ckpt")

    with pytest.raises(ImproperlyConfigured, match=r"encoder_Q\.ckpt cannot be read as weights only"):
        embed_watermark(photo("astronaut"), 7)


def test_an_unknown_variant_is_refused(settings, trustmark: Path):
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "TRUSTMARK_VARIANT": "Z"}
    with pytest.raises(ImproperlyConfigured, match="'Z'"):
        embed_watermark(photo("astronaut"), 7)


# --- marking and reading ------------------------------------------------------------------------


def test_a_mark_reads_back_its_id_after_reencoding_resizing_and_flipping(trustmark: Path):
    marked = embed_watermark(photo("coffee"), 0xABCDE)

    assert marked.size == (512, 512)
    for copy in (marked, jpeg(marked, 75), marked.resize((256, 256)), ImageOps.mirror(marked)):
        hit = detect_watermark(copy)
        assert hit is not None and hit.payload == 0xABCDE and hit.backend == "trustmark"
        assert hit.false_positive_bound < 1e-9
    assert detect_watermark(ImageOps.mirror(marked)).mirrored


def test_unmarked_images_are_not_reported_as_marked(trustmark: Path):
    rng = np.random.default_rng(4)
    images = [photo(name) for name in ("astronaut", "rocket", "chelsea")]
    images.append(Image.fromarray(rng.integers(0, 256, (384, 512, 3), dtype=np.uint8)))
    images.append(Image.new("RGB", (300, 300), (90, 140, 200)))
    for image in images:
        assert detect_watermark(image) is None


def test_another_models_mark_is_not_read_as_ours(trustmark: Path, tmp_path: Path):
    marked = embed_watermark(photo("chelsea"), 99)
    other = build_tiny_trustmark(tmp_path / "other", seed=1)
    shutil.copytree(other, trustmark, dirs_exist_ok=True)  # the operator swaps in other files

    assert detect_watermark(marked) is None


@pytest.mark.slow
def test_outputs_marked_with_rivagan_before_the_switch_are_still_read(settings, trustmark: Path):
    backend = settings.CLEANROOM_WATERMARK
    settings.CLEANROOM_WATERMARK = {"BACKEND": "rivagan"}
    marked = embed_watermark(photo("astronaut"), 4242)
    settings.CLEANROOM_WATERMARK = backend

    hit = detect_watermark(marked)

    assert hit is not None and hit.payload == 4242 and hit.backend == "rivagan"


def test_the_manifest_names_the_trustmark_binding(trustmark: Path):
    applied = watermark_apply(photo("coffee"), 31337)
    assertions = soft_binding_assertions(output_id="out-1", watermark_id=31337 if applied.embedded else None)

    assert applied.embedded, applied.note
    algorithms = [assertion["data"]["alg"] for assertion in assertions]
    assert algorithms[0] == trustmark_backend.ALGORITHM != WATERMARK_ALGORITHM


def test_a_dotted_path_names_the_backend_as_well_as_its_short_name(settings, trustmark: Path):
    settings.CLEANROOM_WATERMARK = {
        **settings.CLEANROOM_WATERMARK,
        "BACKEND": "generation.watermarks.trustmark.TrustMarkWatermark",
    }

    hit = detect_watermark(embed_watermark(photo("coffee"), 0x1234))

    assert hit is not None and hit.payload == 0x1234 and hit.backend == "trustmark"
    assert watermark_algorithm() == trustmark_backend.ALGORITHM
