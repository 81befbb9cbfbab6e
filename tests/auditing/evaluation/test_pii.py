"""The PII evaluation set is what it says it is, and its counting scores the real detectors."""

from __future__ import annotations

import io
import itertools
import re

import pytest
from PIL import Image

from auditing.detectors.faces.base import FaceDetector
from auditing.detectors.pii import Box
from auditing.evaluation import pii_set
from auditing.evaluation.pii import measure_face_scenes, measure_gps, measure_text
from auditing.evaluation.pii_set import CARD, EMAIL, IBAN, iban_valid, luhn_valid


@pytest.fixture(scope="module")
def text_set() -> list[pii_set.TextSample]:
    return pii_set.text_samples(90)


def test_the_set_is_the_same_every_time_it_is_built(text_set: list[pii_set.TextSample]) -> None:
    assert pii_set.text_samples(90) == text_set
    first, again = pii_set.pixel_samples(2), pii_set.pixel_samples(2)
    assert [sample.lines for sample in first] == [sample.lines for sample in again]
    assert [sample.image.tobytes() for sample in first] == [sample.image.tobytes() for sample in again]


def test_each_label_is_the_value_planted_at_its_span(text_set: list[pii_set.TextSample]) -> None:
    planted = [entity for sample in text_set for entity in sample.planted]
    assert {entity.entity for entity in planted} == set(pii_set.TEXT_ENTITIES)
    for sample in text_set:
        for entity in sample.planted:
            assert sample.text[entity.start : entity.end] == entity.value


def test_planted_cards_and_ibans_are_valid_and_their_decoys_are_not() -> None:
    import random

    rng = random.Random(1)
    for _ in range(200):
        assert luhn_valid(pii_set.card_number(rng))
        assert not luhn_valid(pii_set.card_number(rng, valid=False))
        assert iban_valid(pii_set.iban(rng))
        assert not iban_valid(pii_set.iban(rng, valid=False))
    assert luhn_valid("4111 1111 1111 1111") and not luhn_valid("4111 1111 1111 1112")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid("DE88 3704 0044 0532 0130 00")


def test_ibans_have_their_countrys_length() -> None:
    import random

    rng = random.Random(2)
    lengths = {"DE": 22, "GB": 22, "FR": 27, "NL": 18, "ES": 24, "IT": 27, "BE": 16, "CH": 21, "PL": 28}
    for _ in range(100):
        compact = pii_set.iban(rng).replace(" ", "")
        assert len(compact) == lengths[compact[:2]]


def test_negative_fields_hold_decoys_and_nothing_planted(text_set: list[pii_set.TextSample]) -> None:
    negatives = [sample for sample in text_set if not sample.planted]
    assert negatives and all(sample.decoys for sample in negatives)
    assert not any(re.search(r"@\w", sample.text) for sample in negatives)


def test_text_measurement_counts_the_real_detector_and_the_baseline(text_set: list[pii_set.TextSample]) -> None:
    counts = measure_text(text_set, None)

    planted_emails = sum(entity.entity == EMAIL for sample in text_set for entity in sample.planted)
    assert counts.ours[EMAIL].positives == planted_emails
    assert counts.ours[EMAIL].recall == 1.0 and counts.ours[EMAIL].precision == 1.0
    assert counts.ours[IBAN].recall == 1.0 and counts.ours[IBAN].precision == 1.0
    assert counts.ours[CARD].recall == 1.0
    # Presidio alone misses the Mastercard 2-series numbers the auditor's card pattern adds.
    assert counts.baseline[CARD].recall is not None and counts.baseline[CARD].recall < 1.0
    # Without a NER model neither finds a name: counted as missed, never as a perfect score.
    assert counts.ours["PERSON"].recall == 0.0 and counts.ours["PERSON"].precision is None


def test_gps_measurement_reads_the_coordinates_back_from_each_jpeg() -> None:
    samples = pii_set.gps_samples(8)
    assert sum(sample.coordinates is not None for sample in samples) == 4
    assert all(Image.open(io.BytesIO(sample.jpeg)).format == "JPEG" for sample in samples)

    tally = measure_gps(samples)
    assert (tally.true_positives, tally.false_positives, tally.false_negatives, tally.true_negatives) == (4, 0, 0, 4)


def test_each_planted_scene_face_lies_inside_its_scene_apart_from_the_others() -> None:
    scenes = list(pii_set.face_scene_samples(quick=True))
    again = list(itertools.islice(pii_set.face_scene_samples(quick=True), 3))

    assert [(s.name, s.faces) for s in scenes[:3]] == [(s.name, s.faces) for s in again]
    assert [len(s.faces) for s in scenes][:4] == [1, 1, 1, 1] and all(3 <= len(s.faces) <= 6 for s in scenes[4:6])
    assert all(not s.faces for s in scenes[6:])
    for scene in scenes:
        assert 1500 <= scene.image.width <= 2500 and 1500 <= scene.image.height <= 2500
        for face in scene.faces:
            left, top, width, height = face.box
            assert left >= 0 and top >= 0
            assert left + width <= scene.image.width and top + height <= scene.image.height
            assert pii_set.face_size_bucket(width)  # 40-160 px
        for face in scene.faces:
            others = [other.box for other in scene.faces if other is not face]
            assert not any(pii_set._overlapping(face.box, other, 0) for other in others)


class TwoBoxes(FaceDetector):
    """A face backend (named by dotted path) reporting the same two boxes on every image."""

    name = "two-boxes"
    boxes: tuple[Box, ...] = ((100, 100, 50, 50), (400, 400, 50, 50))

    def detect(self, bgr: object) -> list[tuple[Box, float]]:
        return [(box, 0.9) for box in self.boxes]


def test_scene_faces_are_counted_per_face_by_iou_and_every_other_hit_is_a_false_positive() -> None:
    blank = Image.new("RGB", (600, 600))
    samples = [
        # The first box covers this face loosely (IoU 0.47); the second face is missed.
        pii_set.SceneSample(
            "group",
            blank,
            (
                pii_set.PlantedFace("astronaut", (110, 110, 50, 50)),
                pii_set.PlantedFace("camera", (250, 250, 100, 100)),
            ),
        ),
        pii_set.SceneSample("faceless", blank, ()),
    ]

    counts = measure_face_scenes(samples, backend=f"{__name__}.TwoBoxes")

    # Found 1 of 2 planted; 1 unmatched hit in the group scene, 2 in the faceless one.
    assert (counts.faces.true_positives, counts.faces.false_negatives, counts.faces.false_positives) == (1, 1, 3)
    assert counts.buckets["40-63 px"].recall == 1.0 and counts.buckets["96-160 px"].recall == 0.0
    assert (counts.faceless, counts.faceless_with_hit) == (1, 1)
    assert counts.missed == ["group:camera@100px"]
