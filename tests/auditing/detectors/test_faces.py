"""Faces in scikit-image's sample photos (third-party images, not drawn by the project)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from PIL import Image
from skimage import data

from auditing.detectors.faces import face_detector
from auditing.detectors.pii import Box, find_faces

# Where the faces are, read off the photos by eye: (left, top, right, bottom).
ASTRONAUT_FACE = (170, 70, 280, 190)
CAMERAMAN_FACE = (180, 110, 270, 210)


def _photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(data, name)())


def _centre_inside(box: Box | None, region: tuple[int, int, int, int]) -> bool:
    assert box is not None
    x, y = box[0] + box[2] / 2, box[1] + box[3] / 2
    return region[0] <= x <= region[2] and region[1] <= y <= region[3]


@pytest.mark.parametrize(("photo", "region"), [("astronaut", ASTRONAUT_FACE), ("camera", CAMERAMAN_FACE)])
def test_the_default_detector_finds_the_face_in_each_portrait(photo: str, region: tuple[int, int, int, int]) -> None:
    hits = find_faces(_photo(photo))

    assert len(hits) == 1
    (hit,) = hits
    assert hit.entity_type == "FACE" and hit.field == "pixels"
    assert _centre_inside(hit.box, region)
    assert 0.4 <= hit.score <= 1.0
    assert hit.details == {"detector": "nudenet"}  # no guessed gender is recorded


@pytest.mark.parametrize("photo", ["coffee", "coins", "chelsea", "rocket"])
def test_photos_without_people_have_no_face(photo: str) -> None:
    assert find_faces(_photo(photo)) == []


def test_a_greyscale_or_transparent_image_is_accepted() -> None:
    astronaut = _photo("astronaut")
    assert len(find_faces(astronaut.convert("L"))) == 1
    assert len(find_faces(astronaut.convert("RGBA"))) == 1


def test_the_haar_backend_finds_the_astronaut_and_not_the_coins() -> None:
    (hit,) = find_faces(_photo("astronaut"), backend="haar")
    assert _centre_inside(hit.box, ASTRONAUT_FACE)
    assert hit.details == {"detector": "haar"}
    assert find_faces(_photo("coins"), backend="haar") == []


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown face detector"):
        face_detector("yunet")


def test_a_dotted_path_names_a_backend_as_well_as_its_short_name() -> None:
    (hit,) = find_faces(_photo("astronaut"), backend="auditing.detectors.faces.haar.HaarFaces")
    assert hit.details == {"detector": "haar"}


def test_an_unknown_backend_names_the_setting_and_the_known_backends() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"CLEANROOM_PII\['FACE_BACKEND'\]: .*'yunet'.*known: haar, nudenet"):
        find_faces(_photo("coffee"), backend="yunet")


@pytest.fixture(scope="module")
def street() -> Image.Image:
    """A 2000 px scene (the rocket photo, upscaled) with nothing in it that is a face."""
    return _photo("rocket").resize((2000, 1334))


def _astronaut_head(face_width: int) -> tuple[Image.Image, Box]:
    """The astronaut's head and shoulders, scaled so her face is `face_width` px wide, and the face's box in it."""
    head = _photo("astronaut").crop((130, 20, 320, 250))
    factor = face_width / 104  # her face is ~104 px wide in the photo
    head = head.resize((round(head.width * factor), round(head.height * factor)))
    return head, (round(42 * factor), round(60 * factor), face_width, round(102 * factor))


def test_a_small_face_in_a_large_image_is_found(street: Image.Image) -> None:
    # 80 px in a 2000 px image: 13 px in the model's 320 px input, missed without the finer pass.
    head, face = _astronaut_head(80)
    scene = street.copy()
    scene.paste(head, (1200, 500))

    hits = find_faces(scene)

    assert len(hits) == 1
    left, top, width, height = hits[0].box or (0, 0, 0, 0)
    assert abs(left + width / 2 - (1200 + face[0] + face[2] / 2)) < face[2] / 2
    assert abs(top + height / 2 - (500 + face[1] + face[3] / 2)) < face[3] / 2


def test_a_large_scene_without_people_has_no_face(street: Image.Image) -> None:
    assert find_faces(street) == []


@pytest.mark.parametrize(
    ("size", "fine"),
    [((512, 512), None), ((640, 480), None), ((1000, 700), 1024), ((1800, 1200), 1824), ((2500, 1800), 1920)],
)
def test_only_images_larger_than_twice_the_model_input_get_the_finer_pass(size: tuple[int, int], fine: int | None) -> None:
    from auditing.detectors.faces.nudenet import fine_pass_size

    assert fine_pass_size(*size) == fine
