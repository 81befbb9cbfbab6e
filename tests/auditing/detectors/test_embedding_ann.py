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


def _approximate_index(vectors: np.ndarray, keys: list[str]) -> NearDuplicateIndex:
    fingerprint = fingerprint_image(Image.fromarray(skimage_data.camera()), include_mirror=False)
    index = NearDuplicateIndex(embedding_model="bench-model", embedding_ann_threshold=250)
    index.add_many([(key, fingerprint) for key in keys], embeddings=dict(zip(keys, vectors, strict=True)))
    return index


def _nearest(index: NearDuplicateIndex, query: np.ndarray) -> list[tuple[str, float | None]]:
    fingerprint = fingerprint_image(Image.fromarray(skimage_data.camera()), include_mirror=False)
    found = index.candidates(fingerprint, embedding=query, hashes=False, votes=False, min_similarity=-1.0)
    return sorted(((c.key, c.similarity) for c in found), key=lambda pair: (-(pair[1] or 0.0), pair[0]))


def test_a_saved_approximate_index_is_loaded_from_its_inverted_file_not_trained_again(tmp_path: Path) -> None:
    vectors = clustered(600)
    keys = [f"work-{number:03d}" for number in range(600)]
    index = _approximate_index(vectors, keys)
    # Removals and replacements leave gaps in the saved ids; a load hands out ids afresh.
    index.remove_many(keys[:50])
    index.add_many([(keys[60], index.fingerprint(keys[60]))], embeddings={keys[60]: vectors[61]})
    path = tmp_path / "protected.idx"

    index.save(path)
    loaded = NearDuplicateIndex.load(path, embedding_ann_threshold=250)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["protected.idx", "protected.idx.emb", "protected.idx.emb.ann"]
    assert loaded.embeddings_approximate and loaded.embeddings_from_saved_file
    assert loaded.embedding(keys[60]) == pytest.approx(vectors[61])
    assert loaded.embedding(keys[599]) == pytest.approx(vectors[599])
    for query in vectors[::37]:
        assert _nearest(loaded, query) == _nearest(index, query)


def test_an_index_saved_exact_removes_an_old_inverted_file(tmp_path: Path) -> None:
    vectors = clustered(300)
    keys = [f"work-{number:03d}" for number in range(300)]
    path = tmp_path / "protected.idx"
    _approximate_index(vectors, keys).save(path)

    NearDuplicateIndex.load(path, embedding_ann_threshold=1000).save(path)

    assert not (tmp_path / "protected.idx.emb.ann").exists()


def _stale(path: Path) -> None:
    """An inverted file of other vectors: saved, then the index saved again over it without one."""
    ann = path.with_name(path.name + ".emb.ann")
    other = ann.read_bytes()
    keys = [f"work-{number:03d}" for number in range(300)]
    _approximate_index(clustered(300, seed=5), keys).save(path)
    ann.write_bytes(other)


DAMAGE = {
    "missing": lambda path: path.with_name(path.name + ".emb.ann").unlink(),
    "truncated": lambda path: path.with_name(path.name + ".emb.ann").write_bytes(
        path.with_name(path.name + ".emb.ann").read_bytes()[:-100]
    ),
    "another_version": lambda path: path.with_name(path.name + ".emb.ann").write_bytes(
        path.with_name(path.name + ".emb.ann").read_bytes()[:8]
        + b"\xff\xff"
        + path.with_name(path.name + ".emb.ann").read_bytes()[10:]
    ),
    "stale": _stale,
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_missing_or_unusable_inverted_file_is_trained_again_and_saved_for_the_next_load(tmp_path: Path, damage: str) -> None:
    keys = [f"work-{number:03d}" for number in range(300)]
    path = tmp_path / "protected.idx"
    _approximate_index(clustered(300), keys).save(path)
    DAMAGE[damage](path)
    vectors = NearDuplicateIndex.load(path, embedding_ann_threshold=1000).embeddings()  # exact: ignores the file

    trained = NearDuplicateIndex.load(path, embedding_ann_threshold=250)
    reloaded = NearDuplicateIndex.load(path, embedding_ann_threshold=250)

    assert trained.embeddings_approximate and not trained.embeddings_from_saved_file
    assert reloaded.embeddings_from_saved_file
    for key in keys[::29]:
        assert _nearest(trained, vectors[key])[0] == (key, pytest.approx(1.0))
        assert _nearest(reloaded, vectors[key]) == _nearest(trained, vectors[key])
