"""The near-duplicate evaluation set and its measurement (auditing/evaluation/near_duplicate.py),
on a small subset: the published figures come from bench/accuracy.py."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from auditing.evaluation import near_duplicate as evaluation
from auditing.evaluation.near_duplicate import EvaluationSet, Sample
from auditing.similarity.near_duplicate import MIN_INLIERS, NearDuplicateIndex, fingerprint_image


def _digest(sample: Sample) -> tuple[str | None, str, str, str]:
    image = sample.image.convert("RGB")
    return sample.work, sample.transform, sample.parameter, hashlib.sha256(image.tobytes()).hexdigest()


@pytest.fixture(scope="module")
def quick_set() -> EvaluationSet:
    return evaluation.build_set(quick=True)


@pytest.fixture(scope="module")
def subset(quick_set) -> EvaluationSet:
    """Two works (a photo and a procedural artwork), three of their transformations, and the
    hard negatives: the other half of a registered scene, an artwork in a registered palette."""
    works = {key: quick_set.works[key] for key in ("photo:camera", "artwork:0")}
    positives = [
        p for p in quick_set.positives if p.work in works and p.label in ("jpeg q=30", "flip horizontal", "rotation +10°")
    ]
    negatives = [n for n in quick_set.negatives if n.transform in ("same_palette", "unregistered_photo", "flat")]
    return EvaluationSet(works, positives, negatives)


@pytest.mark.slow
def test_the_same_seed_builds_the_same_set_pixel_for_pixel(quick_set):
    again = evaluation.build_set(quick=True)

    assert [_digest(s) for s in again.positives] == [_digest(s) for s in quick_set.positives]
    assert [_digest(s) for s in again.negatives] == [_digest(s) for s in quick_set.negatives]


def test_every_positive_copies_a_work_and_every_family_is_labelled(quick_set):
    families = {sample.transform for sample in quick_set.positives}
    per_work = {work: sum(p.work == work for p in quick_set.positives) for work in quick_set.works}

    assert families == set(evaluation.RECALL_TARGETS)
    assert set(per_work.values()) == {len(evaluation.transformations(quick=True))}
    assert all(sample.work is None for sample in quick_set.negatives)
    assert {"other_half", "same_palette", "unregistered_photo", "flat"} <= {n.transform for n in quick_set.negatives}


def test_a_hard_negative_shares_a_palette_or_a_scene_but_no_pixels(quick_set):
    registered = np.asarray(quick_set.works["half:hubble_deep_field"])
    [other_half] = [n for n in quick_set.negatives if n.transform == "other_half"]
    first_palette = quick_set.works["artwork:0"]
    [same_palette] = [n for n in quick_set.negatives if n.transform == "same_palette" and n.parameter == "artwork:0/0"]

    assert other_half.image.size == (registered.shape[1], registered.shape[0])
    assert not np.array_equal(np.asarray(other_half.image), registered)
    assert np.mean(np.abs(np.asarray(same_palette.image, dtype=int) - np.asarray(first_palette, dtype=int))) > 20


@pytest.mark.slow
def test_the_subset_finds_its_copies_and_nothing_in_the_negatives(subset):
    outcomes = evaluation.run(subset, None)
    tallies = evaluation.summarise(outcomes)

    assert tallies["jpeg"].recall == 1.0
    assert tallies["flip"].recall == 1.0
    assert tallies["rotation"].recall == 1.0
    assert tallies["negatives"].negatives == len(subset.negatives)
    assert tallies["negatives"].false_positives == 0
    assert tallies["wrong_work"].false_positives == 0


def test_a_threshold_above_every_inlier_count_finds_nothing_below_it(subset):
    work = subset.works["photo:camera"]
    index = NearDuplicateIndex.rebuild([("camera", fingerprint_image(work))])
    query = fingerprint_image(evaluation.jpeg(work, 70))

    [match] = index.query(query)
    assert match.inliers >= MIN_INLIERS
    assert index.query(query, min_inliers=match.inliers + 1) == []
    assert [m.key for m in index.query(query, min_inliers=match.inliers)] == ["camera"]


@pytest.mark.slow
def test_the_measured_model_is_the_operators_where_one_is_configured(settings, tmp_path, subset):
    settings.CLEANROOM_EMBEDDINGS = {"MODEL": "", "WEIGHTS": ""}
    plumbing, plumbing_note = evaluation.embedding_stage(tmp_path)
    assert plumbing is not None and plumbing.model.weights.parent == tmp_path.resolve()
    # The same files, now placed by an operator: the measurement says so and measures them.
    config = next(tmp_path.glob("*.json"))
    settings.CLEANROOM_EMBEDDINGS = {"MODEL": str(config), "WEIGHTS": str(plumbing.model.weights), "MIN_SIMILARITY": 0.5}

    configured, configured_note = evaluation.embedding_stage(tmp_path / "unused")

    assert "random weights" in plumbing_note
    assert "settings.CLEANROOM_EMBEDDINGS" in configured_note
    assert configured is not None and configured.min_similarity == 0.5
    outcomes = evaluation.run(EvaluationSet(subset.works, subset.positives[:3], subset.negatives[:3]), configured)
    assert all(o.found(MIN_INLIERS) for o in outcomes[:3])
    assert not any(o.false_positive(MIN_INLIERS) for o in outcomes[3:])
