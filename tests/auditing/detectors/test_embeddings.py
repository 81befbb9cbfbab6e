"""Image embeddings from a local open_clip model, and the embedding stage of the near-duplicate
candidate search, with a tiny model built from a config (random weights: these tests prove the
plumbing, not semantic similarity)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from PIL import Image
from skimage import data as skimage_data

from auditing.similarity.embeddings import OpenClipModel, candidate_embeddings
from auditing.similarity.near_duplicate import NearDuplicateIndex, fingerprint_image
from auditing.similarity.vectors import embeddings_path
from tests.auditing.tiny_clip import TINY_CONFIG, reference_embedding, write_tiny_clip

REPO = Path(__file__).resolve().parents[3]
INDEXED = ["astronaut", "coffee", "chelsea", "camera", "rocket", "immunohistochemistry"]


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage_data, name)())


def crop(image: Image.Image, share: float) -> Image.Image:
    width, height = round(image.width * share), round(image.height * share)
    return image.crop((image.width - width, image.height - height, image.width, image.height))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    return write_tiny_clip(tmp_path_factory.mktemp("clip"), seed=0)


@pytest.fixture(scope="module")
def model(tiny) -> OpenClipModel:
    config, weights = tiny
    return OpenClipModel(model=str(config), weights=str(weights))


@pytest.fixture(scope="module")
def indexed(model) -> NearDuplicateIndex:
    vectors = model.embed([photo(name) for name in INDEXED])
    index = NearDuplicateIndex(embedding_model=model.version)
    index.add_many(
        [(name, fingerprint_image(photo(name), include_mirror=False)) for name in INDEXED],
        embeddings=dict(zip(INDEXED, vectors, strict=True)),
    )
    return index


# --- loading the local model ------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_the_configured_local_weights_are_the_ones_that_embed(tmp_path: Path, suffix: str) -> None:
    config, weights = write_tiny_clip(tmp_path, seed=3, suffix=suffix)
    _, other = write_tiny_clip(tmp_path, seed=4, suffix=suffix)
    image = photo("astronaut")

    ours = OpenClipModel(model=str(config), weights=str(weights)).embed([image])[0]
    another = OpenClipModel(model=str(config), weights=str(other)).embed([image])[0]

    assert ours == pytest.approx(reference_embedding(config, weights, image), abs=1e-5)
    assert not np.allclose(ours, another, atol=1e-3)


def test_embeddings_are_unit_length_float32_rows_in_the_order_given(model: OpenClipModel) -> None:
    images = [photo("coffee"), photo("camera"), photo("coffee")]

    vectors = model.embed(images)

    assert vectors.shape == (3, TINY_CONFIG["embed_dim"]) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1, 1, 1], abs=1e-5)
    assert np.allclose(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1], atol=1e-3)
    assert model.embed([]).shape == (0, TINY_CONFIG["embed_dim"])


def test_transparent_and_greyscale_images_embed_as_they_are_seen(model: OpenClipModel) -> None:
    rgba = photo("astronaut").convert("RGBA")
    rgba.putalpha(255)

    assert np.allclose(model.embed([rgba])[0], model.embed([photo("astronaut")])[0], atol=1e-5)
    assert model.embed([photo("camera")]).shape == (1, TINY_CONFIG["embed_dim"])


def test_a_very_wide_or_tall_image_embeds_as_open_clip_sees_it(tiny, model: OpenClipModel) -> None:
    # The centre is cut out before open_clip's preprocessing (a 10000×1 line would otherwise be
    # scaled to 640000×64 first); the square the model sees is the same, to a fraction of a pixel.
    config, weights = tiny
    for image in (photo("astronaut").resize((2000, 150)), photo("coffee").resize((40, 1600))):
        assert float(model.embed([image])[0] @ np.array(reference_embedding(config, weights, image))) > 0.9999
    line = Image.fromarray(np.random.default_rng(0).integers(0, 256, (1, 10000, 3), dtype=np.uint8))
    assert model.embed([line]).shape == (1, TINY_CONFIG["embed_dim"])


def test_a_missing_weights_file_is_a_configuration_error_naming_it(tiny, tmp_path: Path) -> None:
    config, _ = tiny
    missing = tmp_path / "nowhere" / "clip.safetensors"

    with pytest.raises(ImproperlyConfigured, match=r"nowhere/clip\.safetensors") as raised:
        OpenClipModel(model=str(config), weights=str(missing))

    assert "never a pretrained tag" in str(raised.value)


def test_a_pretrained_tag_or_a_hub_model_is_refused_before_any_download() -> None:
    started = time.monotonic()

    with pytest.raises(ImproperlyConfigured, match="not a file"):
        OpenClipModel(model="ViT-B-32", weights="openai")
    with pytest.raises(ImproperlyConfigured, match="hub"):
        OpenClipModel(model="hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", weights="open_clip_model.safetensors")

    # A hub attempt fails only after ~52 s offline (shared/FACTS.md): these never tried.
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("model_setting", "complaint"),
    [
        ("ViT-Nonexistent-99", "neither a config JSON"),
        ("{dir}/missing.json", "cannot be read"),
        ("{dir}/bad.json", "needs embed_dim"),
    ],
)
def test_an_unknown_architecture_or_a_broken_config_is_refused(tiny, tmp_path: Path, model_setting: str, complaint: str) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"embed_dim": 32}))
    _, weights = tiny

    with pytest.raises(ImproperlyConfigured, match=complaint):
        OpenClipModel(model=model_setting.format(dir=tmp_path), weights=str(weights))


def test_weights_that_do_not_fit_the_architecture_fail_on_load_naming_both(tmp_path: Path) -> None:
    smaller = {**TINY_CONFIG, "embed_dim": 16}
    _, weights = write_tiny_clip(tmp_path / "small", seed=0, config=smaller)
    config, _ = write_tiny_clip(tmp_path / "right", seed=0)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint at all")

    for path in (weights, garbage):
        model = OpenClipModel(model=str(config), weights=str(path))
        with pytest.raises(ImproperlyConfigured, match="do not load into open_clip model 'cleanroom-tiny-clip'") as raised:
            model.load()
        assert str(path) in str(raised.value)


def test_the_version_names_the_architecture_and_changes_with_the_weights(tiny, tmp_path: Path) -> None:
    config, weights = tiny
    _, other = write_tiny_clip(tmp_path, seed=9)

    first = OpenClipModel(model=str(config), weights=str(weights)).version

    assert first.startswith("cleanroom-tiny-clip/") and len(first) <= 64
    assert OpenClipModel(model=str(config), weights=str(weights)).version == first
    assert OpenClipModel(model=str(config), weights=str(other)).version != first


def test_settings_turn_the_stage_on_with_their_limits_or_leave_it_off(tiny) -> None:
    config, weights = tiny

    assert candidate_embeddings({}) is None
    assert candidate_embeddings({"MODEL": "", "WEIGHTS": ""}) is None
    stage = candidate_embeddings({"MODEL": str(config), "WEIGHTS": str(weights), "CANDIDATES": 3, "MIN_SIMILARITY": 0.5})
    assert stage is not None and stage.candidates == 3 and stage.min_similarity == 0.5
    assert stage.version == stage.model.version
    with pytest.raises(ImproperlyConfigured, match="WEIGHTS"):
        candidate_embeddings({"MODEL": str(config)})
    with pytest.raises(ImproperlyConfigured, match="WEIGTHS"):
        candidate_embeddings({"MODEL": str(config), "WEIGTHS": str(weights)})
    with pytest.raises(ImproperlyConfigured, match="MIN_SIMILARITY"):
        candidate_embeddings({"MODEL": str(config), "WEIGHTS": str(weights), "MIN_SIMILARITY": 2})


def test_configuring_the_model_loads_neither_torch_nor_open_clip(tiny) -> None:
    config, weights = tiny
    code = (
        "import sys\n"
        "from auditing.similarity.embeddings import OpenClipModel\n"
        f"OpenClipModel(model={str(config)!r}, weights={str(weights)!r}).version\n"
        "assert 'torch' not in sys.modules and 'open_clip' not in sys.modules\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr


# --- the embedding stage of the candidate search ---------------------------------------------


def test_an_identical_image_is_the_top_candidate_of_the_embedding_stage_alone(indexed, model) -> None:
    for name in ("coffee", "rocket"):
        query = photo(name)

        (top, *_) = indexed.candidates(fingerprint_image(query), embedding=model.embed([query])[0], hashes=False, votes=False)

        assert top.key == name and top.sources == ("embedding",)
        assert top.similarity == pytest.approx(1.0, abs=1e-5)


def test_a_crop_the_hashes_miss_is_proposed_by_embeddings_and_verification_decides(indexed, model) -> None:
    query = crop(photo("astronaut"), 0.6)
    fingerprint = fingerprint_image(query)
    embedding = model.embed([query])[0]

    assert "astronaut" not in [c.key for c in indexed.candidates(fingerprint, votes=False)]
    # Every entry becomes an embedding candidate (random weights rank nothing), so the
    # geometric check alone must tell the copy from the five unrelated photos.
    candidates = indexed.candidates(fingerprint, embedding=embedding, votes=False, embedding_candidates=10, min_similarity=-1)
    assert sorted(c.key for c in candidates) == sorted(INDEXED)
    assert all("embedding" in c.sources and c.similarity is not None for c in candidates)

    (match,) = indexed.query(fingerprint, embedding=embedding, votes=False, embedding_candidates=10, min_similarity=-1)

    assert match.key == "astronaut" and match.sources == ("embedding",) and "crop" in match.transforms
    assert match.inliers >= 15


def test_the_similarity_threshold_and_the_candidate_count_bound_the_stage(indexed, model) -> None:
    query = photo("chelsea")
    fingerprint, embedding = fingerprint_image(query), model.embed([query])[0]

    assert (
        len(
            indexed.candidates(
                fingerprint, embedding=embedding, hashes=False, votes=False, embedding_candidates=2, min_similarity=-1
            )
        )
        == 2
    )
    above = indexed.candidates(
        fingerprint, embedding=embedding, hashes=False, votes=False, embedding_candidates=10, min_similarity=0.999
    )
    assert [c.key for c in above] == ["chelsea"]


def test_hash_candidates_carry_their_embedding_similarity_too(indexed, model) -> None:
    query = photo("camera")

    (candidate,) = [
        c for c in indexed.candidates(fingerprint_image(query), embedding=model.embed([query])[0]) if c.key == "camera"
    ]

    assert set(candidate.sources) >= {"hash", "embedding"}
    assert candidate.similarity == pytest.approx(1.0, abs=1e-5)


def test_without_an_embedding_the_search_is_the_hash_and_keypoint_search(indexed) -> None:
    query = fingerprint_image(crop(photo("coffee"), 0.85))

    assert all(c.similarity is None and "embedding" not in c.sources for c in indexed.candidates(query))
    assert [m.key for m in indexed.query(query)] == ["coffee"]


def test_an_embedding_of_another_dimension_is_refused(indexed) -> None:
    fingerprint = indexed.fingerprint("coffee")

    with pytest.raises(ValueError, match="dimension"):
        indexed.candidates(fingerprint, embedding=np.ones(8, dtype=np.float32))
    with pytest.raises(ValueError, match="dimension"):
        NearDuplicateIndex.rebuild([("a", fingerprint), ("b", fingerprint)], embeddings={"a": np.ones(4), "b": np.ones(5)})


def test_vectors_are_stored_unit_length_and_removed_with_their_entry(model) -> None:
    fingerprint = fingerprint_image(photo("coffee"), include_mirror=False)
    index = NearDuplicateIndex()
    index.add("coffee", fingerprint, embedding=3 * model.embed([photo("coffee")])[0])
    index.add("plain", fingerprint_image(photo("camera")))

    assert np.linalg.norm(index.embedding("coffee")) == pytest.approx(1.0, abs=1e-6)
    assert index.embedding("plain") is None and index.embedded_count() == 1

    index.remove("coffee")

    assert index.embedded_count() == 0 and index.embeddings() == {}
    assert index.candidates(fingerprint, embedding=model.embed([photo("coffee")])[0], hashes=False, votes=False) == []


def test_a_copy_is_independent_of_its_original(indexed, model) -> None:
    copy = indexed.copy()
    copy.remove("coffee")

    assert "coffee" in indexed and indexed.embedding("coffee") is not None
    assert copy.embedding_model == indexed.embedding_model and copy.embedded_count() == len(INDEXED) - 1


# --- persistence ------------------------------------------------------------------------------


def test_embeddings_are_saved_beside_the_index_and_reload_with_their_model(tmp_path: Path, indexed, model) -> None:
    path = tmp_path / "registry.ndx"
    indexed.save(path)

    loaded = NearDuplicateIndex.load(path)
    query = crop(photo("rocket"), 0.85)
    embedding = model.embed([query])[0]

    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.ndx", "registry.ndx.emb"]
    assert loaded.embedding_model == model.version and loaded.embedded_count() == len(INDEXED)
    for name in INDEXED:
        assert np.allclose(loaded.embedding(name), indexed.embedding(name), atol=1e-6)
    assert [(c.key, c.sources) for c in loaded.candidates(fingerprint_image(query), embedding=embedding)] == [
        (c.key, c.sources) for c in indexed.candidates(fingerprint_image(query), embedding=embedding)
    ]


def test_saving_an_index_without_embeddings_removes_the_old_vectors(tmp_path: Path, indexed) -> None:
    path = tmp_path / "registry.ndx"
    indexed.save(path)

    NearDuplicateIndex.rebuild([("coffee", indexed.fingerprint("coffee"))]).save(path)

    assert not embeddings_path(path).exists()
    assert NearDuplicateIndex.load(path).embedded_count() == 0


def test_vectors_saved_apart_from_their_index_are_refused(tmp_path: Path, indexed) -> None:
    indexed.save(tmp_path / "full.ndx")
    NearDuplicateIndex.rebuild([("coffee", indexed.fingerprint("coffee"))]).save(tmp_path / "small.ndx")
    embeddings_path(tmp_path / "small.ndx").write_bytes(embeddings_path(tmp_path / "full.ndx").read_bytes())

    with pytest.raises(ValueError, match="embeddings file holds"):
        NearDuplicateIndex.load(tmp_path / "small.ndx")


def test_a_truncated_embeddings_file_is_refused(tmp_path: Path, indexed) -> None:
    path = tmp_path / "registry.ndx"
    indexed.save(path)
    vectors = embeddings_path(path)
    vectors.write_bytes(vectors.read_bytes()[:-4])

    with pytest.raises(ValueError, match="truncated"):
        NearDuplicateIndex.load(path)
