"""The near-duplicate index's large mode: above its compact threshold it keeps only what the
candidate search needs and reads the fingerprints it verifies through a loader."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data as skimage_data

from auditing.similarity import compact
from auditing.similarity.compact import SUBSET_DESCRIPTORS
from auditing.similarity.near_duplicate import Fingerprint, NearDuplicateIndex, fingerprint_image

REGISTERED = ["astronaut", "coffee", "chelsea", "camera", "immunohistochemistry"]


class Store:
    """A table of full fingerprints by key that counts how it is read."""

    def __init__(self, fingerprints: dict[str, Fingerprint]) -> None:
        self.fingerprints = fingerprints
        self.calls: list[list[str]] = []

    def __call__(self, keys: list[str]) -> dict[str, Fingerprint]:
        self.calls.append(list(keys))
        return {key: self.fingerprints[key] for key in keys if key in self.fingerprints}


def noise(count: int, *, seed: int, prefix: str = "noise") -> list[tuple[str, Fingerprint]]:
    """Fingerprints of random hashes, keypoints and descriptors: entries that match nothing."""
    rng = np.random.default_rng(seed)
    found = []
    for n in range(count):
        phash, dhash, flipped = (int(value) for value in rng.integers(2**63, size=3))
        points = rng.random((64, 2), dtype=np.float32) * 500
        descriptors = rng.integers(0, 256, (64, 32), dtype=np.uint8)
        found.append((f"{prefix}-{n}", Fingerprint(phash, dhash, flipped, 512, 512, points, descriptors)))
    return found


def jpeg_75(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=75)
    return Image.open(io.BytesIO(buffer.getvalue()))


def crop_90(image: Image.Image) -> Image.Image:
    width, height = round(image.width * 0.9), round(image.height * 0.9)
    return image.crop((image.width - width, 0, image.width, height))


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    return {name: Image.fromarray(getattr(skimage_data, name)()) for name in [*REGISTERED, "rocket", "moon"]}


@pytest.fixture(scope="module")
def store(photos: dict[str, Image.Image]) -> Store:
    return Store({name: fingerprint_image(photos[name], include_mirror=False) for name in REGISTERED})


def compact_index(store: Store) -> NearDuplicateIndex:
    return NearDuplicateIndex.rebuild(store.fingerprints.items(), loader=store, compact_threshold=2)


def test_an_index_above_its_compact_threshold_keeps_no_full_fingerprint(store: Store) -> None:
    index = compact_index(store)

    assert index.compact and len(index) == len(REGISTERED)
    assert index._fingerprints == {}
    assert not NearDuplicateIndex.rebuild(store.fingerprints.items(), loader=store, compact_threshold=10).compact
    assert not NearDuplicateIndex.rebuild(store.fingerprints.items()).compact  # no loader: never compact


def test_the_vote_index_holds_only_each_entrys_strongest_descriptors(store: Store) -> None:
    index = compact_index(store)

    assert index._compact is not None
    assert index._compact.vote_index().ntotal == SUBSET_DESCRIPTORS * len(REGISTERED)


@pytest.mark.parametrize("transform", [jpeg_75, crop_90, ImageOps.mirror], ids=["jpeg", "crop", "flip"])
def test_a_copy_is_found_and_only_its_candidates_are_loaded_in_one_call(
    store: Store, photos: dict[str, Image.Image], transform
) -> None:
    index = compact_index(store)
    store.calls.clear()

    [match, *_] = index.query(fingerprint_image(transform(photos["coffee"])))

    assert match.key == "coffee"
    assert len(store.calls) == 1 and len(store.calls[0]) < len(REGISTERED) + 1


@pytest.mark.parametrize("name", ["rocket", "moon"])
def test_an_unrelated_photo_matches_nothing_in_a_compact_index(store: Store, photos: dict[str, Image.Image], name: str) -> None:
    assert compact_index(store).query(fingerprint_image(photos[name])) == []


def test_an_entry_whose_row_is_gone_is_skipped_not_an_error(store: Store, photos: dict[str, Image.Image]) -> None:
    index = compact_index(store)
    partial = Store({key: value for key, value in store.fingerprints.items() if key != "coffee"})
    index._compact.loader = partial  # type: ignore[union-attr]

    assert index.query(fingerprint_image(photos["coffee"])) == []


def test_a_compact_index_saves_and_loads_and_answers_the_same(
    tmp_path: Path, store: Store, photos: dict[str, Image.Image]
) -> None:
    index = compact_index(store)
    index.save(tmp_path / "outputs.idx")

    loaded = NearDuplicateIndex.load(tmp_path / "outputs.idx", loader=store, compact_threshold=2)

    assert loaded.compact and set(loaded.keys()) == set(REGISTERED)
    query = fingerprint_image(crop_90(photos["chelsea"]))
    assert [m.key for m in loaded.query(query)] == [m.key for m in index.query(query)] == ["chelsea"]
    assert loaded.fingerprint("camera") == store.fingerprints["camera"]
    with pytest.raises(ValueError, match="loader"):
        NearDuplicateIndex.load(tmp_path / "outputs.idx")


def test_adding_to_a_loaded_compact_index_and_removing_from_it(
    tmp_path: Path, store: Store, photos: dict[str, Image.Image]
) -> None:
    index = compact_index(store)
    index.save(tmp_path / "outputs.idx")
    loaded = NearDuplicateIndex.load(tmp_path / "outputs.idx", loader=store, compact_threshold=2)
    store.fingerprints["rocket"] = fingerprint_image(photos["rocket"], include_mirror=False)
    try:
        grown = loaded.copy()
        grown.add("rocket", store.fingerprints["rocket"])
        grown.remove("coffee")

        assert [m.key for m in grown.query(fingerprint_image(jpeg_75(photos["rocket"])))] == ["rocket"]
        assert grown.query(fingerprint_image(photos["coffee"])) == []
        assert "rocket" not in loaded and "coffee" in loaded  # the copy is independent
    finally:
        del store.fingerprints["rocket"]


def test_votes_of_a_compact_index_also_work_from_an_inverted_file_saved_and_loaded(
    tmp_path: Path, store: Store, photos: dict[str, Image.Image]
) -> None:
    others = noise(60, seed=3)
    loader = Store({**store.fingerprints, **dict(others)})
    index = NearDuplicateIndex.rebuild(
        [*store.fingerprints.items(), *others], loader=loader, compact_threshold=2, ivf_threshold=500
    )

    index.save(tmp_path / "outputs.idx")
    loaded = NearDuplicateIndex.load(tmp_path / "outputs.idx", loader=loader, compact_threshold=2, ivf_threshold=500)

    query = fingerprint_image(crop_90(photos["astronaut"]))
    assert index.votes_approximate and loaded.votes_approximate
    assert [m.key for m in index.query(query, k=1)] == [m.key for m in loaded.query(query, k=1)] == ["astronaut"]


def test_entries_added_one_by_one_are_found_and_the_inverted_file_is_trained_again_as_it_grows(
    store: Store, photos: dict[str, Image.Image]
) -> None:
    others = noise(60, seed=3)
    loader = Store({**store.fingerprints, **dict(others)})
    index = NearDuplicateIndex.rebuild(
        [*store.fingerprints.items(), *others], loader=loader, compact_threshold=2, ivf_threshold=500
    )
    lists = index.vote_lists
    more = [*noise(300, seed=4, prefix="more"), ("rocket", fingerprint_image(photos["rocket"], include_mirror=False))]
    loader.fingerprints.update(more)

    for key, fingerprint in more:  # as releases add them: one at a time, in place
        index.add(key, fingerprint)

    assert len(index) == len(REGISTERED) + 60 + 301
    assert [m.key for m in index.query(fingerprint_image(crop_90(photos["rocket"])), k=1)] == ["rocket"]
    assert [m.key for m in index.query(fingerprint_image(crop_90(photos["astronaut"])), k=1)] == ["astronaut"]
    # 65 entries × 32 codes trained 2·√2,080 lists; past four times that many codes, more lists,
    # trained in the background.
    assert index.wait_for_retraining(timeout=60)
    assert lists == 91 and index.vote_lists > lists


def test_while_a_new_inverted_file_trains_the_old_one_answers_and_what_is_added_meanwhile_reaches_the_new(
    store: Store, photos: dict[str, Image.Image], monkeypatch: pytest.MonkeyPatch
) -> None:
    others = noise(60, seed=3)
    loader = Store({**store.fingerprints, **dict(others)})
    index = NearDuplicateIndex.rebuild(
        [*store.fingerprints.items(), *others], loader=loader, compact_threshold=2, ivf_threshold=500
    )
    assert index.vote_lists == 91  # trained here and now
    # The real training, held in its thread until this test has added and removed entries.
    started, go_on = threading.Event(), threading.Event()
    train = compact.vote_inverted_file

    def held_training(*args: Any, **kwargs: Any) -> Any:
        started.set()
        go_on.wait(60)
        return train(*args, **kwargs)

    monkeypatch.setattr(compact, "vote_inverted_file", held_training)
    grown = noise(300, seed=4, prefix="more")
    loader.fingerprints.update(grown)
    index.add_many(grown)
    index.prepare_search()  # past four times the codes its 91 lists were trained on
    assert started.wait(30) and index.retraining

    rocket = fingerprint_image(photos["rocket"], include_mirror=False)
    loader.fingerprints["rocket"] = rocket
    index.add("rocket", rocket)
    index.remove("coffee")
    copy_of_rocket = fingerprint_image(crop_90(photos["rocket"]))
    # Meanwhile the old inverted file answers, with the new entry's descriptors in it.
    assert index.vote_lists == 91
    assert [c.key for c in index.candidates(copy_of_rocket, hashes=False)][:1] == ["rocket"]

    go_on.set()
    assert index.wait_for_retraining(timeout=60) and not index.retraining
    assert index.vote_lists > 91
    # The new one holds what was added while it trained: found by its descriptors alone.
    assert [c.key for c in index.candidates(copy_of_rocket, hashes=False)][:1] == ["rocket"]
    assert "coffee" not in [m.key for m in index.query(fingerprint_image(crop_90(photos["coffee"])), k=3)]
    assert len(index) == len(REGISTERED) + 60 + 300 + 1 - 1


@pytest.mark.parametrize("compact", [False, True], ids=["full", "compact"])
def test_queries_in_other_threads_go_on_while_entries_are_added_in_place(
    store: Store, photos: dict[str, Image.Image], compact: bool
) -> None:
    loader = Store(dict(store.fingerprints))
    index = NearDuplicateIndex.rebuild(
        store.fingerprints.items(), loader=loader if compact else None, compact_threshold=2, ivf_threshold=500
    )
    query = fingerprint_image(jpeg_75(photos["astronaut"]))
    answers: list[list[str]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def ask() -> None:
        try:
            while not done.is_set():
                answers.append([match.key for match in index.query(query, k=1)])
        except BaseException as exc:
            errors.append(exc)

    askers = [threading.Thread(target=ask) for _ in range(3)]
    for asker in askers:
        asker.start()
    added = noise(150, seed=5)
    loader.fingerprints.update(added)
    for key, fingerprint in added:
        index.add(key, fingerprint)
    done.set()
    for asker in askers:
        asker.join()

    assert errors == [] and answers and all(answer == ["astronaut"] for answer in answers)
    assert len(index) == len(REGISTERED) + 150


def test_a_compact_index_refuses_embeddings(store: Store) -> None:
    with pytest.raises(ValueError, match="no embeddings"):
        NearDuplicateIndex.rebuild(
            store.fingerprints.items(), loader=store, compact_threshold=2, embeddings={"coffee": np.ones(4, dtype=np.float32)}
        )
