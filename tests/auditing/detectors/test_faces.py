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
