"""The NudeNet backend's sanity policy (auditing/detectors/nsfw/sanity.py): a counted body part
with next to no skin in its box, in a colour picture with no face, is set aside, with the reason
in the result. Only benign images: abstract graphics from the evaluation set, which NudeNet
flags, and scikit-image's photos of clothed people, whose face detections stand in for any
detection on a person (no explicit image is made or stored)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from auditing.detectors.nsfw import detector_from_settings
from auditing.detectors.nsfw.base import NsfwLabel
from auditing.detectors.nsfw.nudenet import DEFAULT_COUNTED_LABELS, NudeNetDetector
from auditing.detectors.nsfw.sanity import FACE_LABELS, MIN_SKIN_FRACTION, NO_SKIN, SkinEvidencePolicy
from auditing.evaluation.nsfw import CATEGORIES, evaluation_set

# The first colour wheel of the evaluation set: NudeNet says BUTTOCKS_EXPOSED over all of it.
COLOUR_WHEEL = next(item.image for item in evaluation_set(per_category={"abstract": 1}))
SKIN = (224, 172, 140)
BLUE = (40, 90, 200)


@pytest.fixture(scope="module")
def detector() -> NudeNetDetector:
    return NudeNetDetector()


def test_a_whole_frame_body_part_on_a_colour_wheel_is_set_aside_with_its_reason(detector: NudeNetDetector) -> None:
    raw = NudeNetDetector(policy=None).detect(COLOUR_WHEEL)
    assert raw.flagged and raw.score > 0.5

    result = detector.detect(COLOUR_WHEEL)

    assert not result.flagged and result.score == 0.0
    (aside,) = result.set_aside
    assert aside["label"] == "BUTTOCKS_EXPOSED" and aside["score"] == raw.score
    assert aside["rule"] == NO_SKIN and aside["skin_fraction"] < MIN_SKIN_FRACTION and aside["box_coverage"] > 0.9
    assert "skin-toned" in aside["reason"] and "no face" in aside["reason"]
    assert result.labels == raw.labels  # what the model said is still reported in full


def test_a_detection_on_a_photo_of_a_person_is_kept(detector: NudeNetDetector) -> None:
    astronaut = Image.fromarray(data.astronaut())
    with_faces = FACE_LABELS | DEFAULT_COUNTED_LABELS

    result = NudeNetDetector(threshold=0.3, counted_labels=with_faces).detect(astronaut)
    raw = NudeNetDetector(threshold=0.3, counted_labels=with_faces, policy=None).detect(astronaut)

    assert result.flagged and result.score == raw.score and result.set_aside == []


def test_a_recoloured_person_is_kept_because_a_face_is_evidence_of_a_person() -> None:
    astronaut = Image.fromarray(data.astronaut())
    hue, saturation, value = astronaut.convert("HSV").split()
    recoloured = Image.merge("HSV", (hue.point(lambda v: (v + 128) % 256), saturation, value)).convert("RGB")
    skin_only = NudeNetDetector(threshold=0.3, counted_labels=FACE_LABELS, policy=SkinEvidencePolicy(trust_faces=False))

    assert NudeNetDetector(threshold=0.3, counted_labels=FACE_LABELS).detect(recoloured).flagged
    # The skin test alone would have set the face aside: its colours are no longer skin's.
    assert not skin_only.detect(recoloured).flagged
    assert skin_only.detect(astronaut).flagged


def test_a_greyscale_picture_keeps_its_detections_since_skin_cannot_be_judged() -> None:
    policy = SkinEvidencePolicy()
    grey = ImageOps.grayscale(COLOUR_WHEEL).convert("RGB")
    label = NsfwLabel(label="BUTTOCKS_EXPOSED", score=0.8, box=(0, 0, grey.width, grey.height))

    kept, set_aside = policy.review(grey, [label], DEFAULT_COUNTED_LABELS)

    assert kept == [label] and set_aside == []


def two_patches(left: tuple[int, int, int], right: tuple[int, int, int]) -> Image.Image:
    pixels = np.zeros((100, 200, 3), dtype=np.uint8)
    pixels[:, :100], pixels[:, 100:] = left, right
    return Image.fromarray(pixels)


def test_a_box_over_skin_is_kept_and_a_box_over_blue_is_set_aside() -> None:
    image = two_patches(SKIN, BLUE)
    on_skin = NsfwLabel(label="FEMALE_BREAST_EXPOSED", score=0.7, box=(0, 0, 100, 100))
    on_blue = NsfwLabel(label="FEMALE_BREAST_EXPOSED", score=0.6, box=(100, 0, 100, 100))
    uncounted = NsfwLabel(label="FEET_COVERED", score=0.9, box=(100, 0, 100, 100))

    kept, set_aside = SkinEvidencePolicy().review(image, [on_skin, on_blue, uncounted], DEFAULT_COUNTED_LABELS)

    assert kept == [on_skin]
    assert [(entry["score"], entry["skin_fraction"], entry["box_coverage"]) for entry in set_aside] == [(0.6, 0.0, 0.5)]


def test_boxes_of_a_reduced_copy_are_judged_in_its_pixels() -> None:
    half = two_patches(SKIN, BLUE)  # a copy at half the size of the image the boxes are in
    on_skin = NsfwLabel(label="BUTTOCKS_EXPOSED", score=0.7, box=(0, 0, 200, 200))

    kept, set_aside = SkinEvidencePolicy().review(half, [on_skin], DEFAULT_COUNTED_LABELS, scale=2.0)

    assert kept == [on_skin] and set_aside == []


def test_the_policy_is_part_of_the_version_and_can_be_turned_off_in_settings() -> None:
    default = detector_from_settings({"BACKEND": "nudenet"})
    raw = detector_from_settings({"BACKEND": "nudenet", "SANITY": False})

    assert default.version.endswith("/skin1") and raw.version.endswith("/raw")
    assert len(default.version) <= 32  # AuditRun.auditor_version
    assert NudeNetDetector(policy=SkinEvidencePolicy(min_skin_fraction=0.4)).version != default.version
    assert raw.detect(COLOUR_WHEEL).flagged and not default.detect(COLOUR_WHEEL).flagged
    with pytest.raises(ValueError, match="SANITY"):
        detector_from_settings({"BACKEND": "nudenet", "SANITY": "no"})


# 40 images, every category; the abstract ones include two colour wheels and a blob pattern.
SUBSET = {"abstract": 16, "gradient": 4, "colour_chart": 4, "texture": 4, "product": 4, "landscape": 4, "clothed_person": 4}


@pytest.fixture(scope="module")
def subset_outcomes(detector: NudeNetDetector) -> dict[str, Counter[str]]:
    raw = NudeNetDetector(policy=None)
    outcomes: dict[str, Counter[str]] = {"raw": Counter(), "policy": Counter()}
    for item in evaluation_set(per_category=SUBSET):
        assert not item.nsfw
        outcomes["raw"][item.category] += raw.detect(item.image).flagged
        outcomes["policy"][item.category] += detector.detect(item.image).flagged
    return outcomes


def test_the_evaluation_subset_covers_every_category() -> None:
    assert Counter(item.category for item in evaluation_set(per_category=SUBSET)) == SUBSET
    assert set(SUBSET) == set(CATEGORIES)


def test_raw_nudenet_flags_abstract_graphics_in_the_subset(subset_outcomes) -> None:
    assert subset_outcomes["raw"]["abstract"] >= 2


def test_with_the_policy_nothing_in_the_subset_is_flagged(subset_outcomes) -> None:
    assert sum(subset_outcomes["policy"].values()) == 0


def test_the_evaluation_set_is_the_same_every_time() -> None:
    first = [np.asarray(item.image).tobytes() for item in evaluation_set(per_category={"abstract": 3, "texture": 2})]
    second = [np.asarray(item.image).tobytes() for item in evaluation_set(per_category={"abstract": 3, "texture": 2})]
    assert first == second


def test_output_moderation_passes_a_colour_wheel_and_records_what_was_set_aside(settings) -> None:
    from generation.services.moderation import moderate

    settings.CLEANROOM_NSFW = {"BACKEND": "nudenet"}

    verdict = moderate(COLOUR_WHEEL)

    assert verdict["flagged"] is False and verdict["version"].endswith("/skin1")
    assert [entry["label"] for entry in verdict["set_aside"]] == ["BUTTOCKS_EXPOSED"]
    assert verdict["set_aside"][0]["rule"] == NO_SKIN
