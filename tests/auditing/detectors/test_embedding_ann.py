"""The embedding stage's index: exact up to its threshold, an inverted file beyond it, with the
same answers on a small set and the same files on disk (bench/scale_embeddings.py measures it
at 1,000,000)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data

from auditing.similarity.near_duplicate import NearDuplicateIndex, fingerprint_image
from auditing.similarity.vectors import VectorIndex, unit_rows


def clustered(count: int, dim: int = 32, clusters: int = 20, seed: int = 0) -> np.ndarray:
    """Unit vectors around a few centres, as image embeddings of similar photos group."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    return unit_rows(centres[rng.integers(0, clusters, count)] + 0.4 * rng.standard_normal((count, dim)).astype(np.float32))


def test_the_index_is_exact_up_to_its_threshold_and_approximate_beyond_it() -> None:
    vectors = clustered(300)
    index = VectorIndex(ann_threshold=200)

    index.add(np.arange(200, dtype=np.int64), vectors[:200])
    assert not index.approximate
    index.add(np.arange(200, 300, dtype=np.int64), vectors[200:])
    assert index.approximate
    assert len(index) == 300


def test_the_approximate_index_answers_as_the_exact_one_on_a_small_set() -> None:
    vectors = clustered(2000)
    ids = np.arange(2000, dtype=np.int64) * 3 + 5  # ids need not be positions
    exact, approximate = VectorIndex(ann_threshold=10_000), VectorIndex(ann_threshold=500)
    exact.add(ids, vectors)
    approximate.add(ids, vectors)
    queries = unit_rows(vectors[:100] + 0.1 * np.random.default_rng(1).standard_normal((100, 32)).astype(np.float32))

    found = expected = 0
    for query in queries:
        truth = set(exact.search(query[None, :], 10, -1.0))
        found += len(truth & set(approximate.search(query[None, :], 10, -1.0)))
        expected += len(truth)

    assert approximate.approximate and not exact.approximate
    assert found / expected >= 0.95
    top = approximate.search(vectors[7][None, :], 1, 0.0)
    assert top == pytest.approx({int(ids[7]): 1.0})


def test_removed_and_read_back_vectors_behave_the_same_in_the_approximate_index() -> None:
    vectors = clustered(400)
    index = VectorIndex(ann_threshold=100)
    index.add(np.arange(400, dtype=np.int64), vectors)

    assert index.get(17) == pytest.approx(vectors[17])
    index.remove([17, 9999])
    ids, rows = index.all()

    assert 17 not in index and len(index) == 399
    assert 17 not in index.search(vectors[17][None, :], 5, -1.0)
    assert rows[list(ids).index(18)] == pytest.approx(vectors[18])


def test_a_saved_index_loads_approximate_above_the_threshold_with_the_same_vectors(tmp_path: Path) -> None:
    fingerprint = fingerprint_image(Image.fromarray(skimage_data.camera()), include_mirror=False)
    vectors = clustered(300)
    keys = [f"work-{number:03d}" for number in range(300)]
    index = NearDuplicateIndex(embedding_model="bench-model", embedding_ann_threshold=250)
    index.add_many([(key, fingerprint) for key in keys], embeddings=dict(zip(keys, vectors, strict=True)))
    assert index.embeddings_approximate

    index.save(tmp_path / "protected.idx")
    approximate = NearDuplicateIndex.load(tmp_path / "protected.idx", embedding_ann_threshold=250)
    exact = NearDuplicateIndex.load(tmp_path / "protected.idx", embedding_ann_threshold=1000)

    assert approximate.embeddings_approximate and not exact.embeddings_approximate
    assert approximate.embedding_model == "bench-model"
    for loaded in (approximate, exact):
        saved = loaded.embeddings()
        assert sorted(saved) == keys
        assert np.stack([saved[key] for key in keys]) == pytest.approx(vectors, abs=1e-6)


def test_a_threshold_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        VectorIndex(ann_threshold=0)
