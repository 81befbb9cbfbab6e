"""Where the asset page draws a finding: PII boxes turned as the browser shows the image, and a
near-duplicate's matched region on both images, from the homography the auditor stored."""

from __future__ import annotations

import pytest
from PIL import Image, ImageOps

from auditing.evidence import exif_orientation, match_drawing, oriented_box, viewed_size
from auditing.models import ProtectedWork
from tests.auditing.factories import near_duplicate_finding


def bounds(points: str) -> tuple[float, float, float, float]:
    pairs = [tuple(map(float, point.split(","))) for point in points.split()]
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    return min(xs), min(ys), max(xs), max(ys)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_box_lands_where_the_browser_shows_its_pixels(orientation):
    stored = Image.new("L", (40, 20), 0)
    stored.paste(255, (5, 3, 9, 6))  # a 4×3 box at (5, 3) of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.info["exif"] = exif.tobytes()

    shown = ImageOps.exif_transpose(stored)
    left, top, width, height = oriented_box((5, 3, 4, 3), 40, 20, orientation)

    assert (left, top, left + width, top + height) == shown.getbbox()
    assert viewed_size(40, 20, orientation) == shown.size


def test_the_orientation_is_read_from_what_ingest_recorded_and_nonsense_is_ignored():
    assert exif_orientation({"exif": {"Orientation": 6}}) == 6
    assert exif_orientation({"exif": {"Orientation": 42}}) == 1
    assert exif_orientation({}) == 1 and exif_orientation(None) == 1


def test_a_crop_is_outlined_inside_the_reference_and_around_the_whole_asset():
    # The asset (100×50) is the reference's (200×100) region from (20, 40): a pure crop.
    details = {
        "geometry": {"homography": [[1.0, 0.0, 20.0], [0.0, 1.0, 40.0], [0.0, 0.0, 1.0]]},
        "query_size": [100, 50],
        "reference_size": [200, 100],
    }

    drawing = match_drawing(details)

    assert drawing is not None
    assert bounds(drawing.reference_outline) == (20.0, 40.0, 120.0, 90.0)
    assert bounds(drawing.asset_outline) == (0.0, 0.0, 100.0, 50.0)  # the reference clipped to the asset
    assert drawing.reference_to_asset == (1.0, 0.0, -20.0, 0.0, 1.0, -40.0, 0.0, 0.0, 1.0)
    assert (drawing.asset_all, drawing.reference_percent) == (True, 25)


def test_a_mirrored_copy_is_outlined_through_the_flip():
    details = {
        "geometry": {"homography": [[-1.0, 0.0, 100.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]},
        "query_size": [100, 80],
        "reference_size": [100, 80],
    }

    drawing = match_drawing(details)

    assert drawing is not None and bounds(drawing.reference_outline) == (0.0, 0.0, 100.0, 80.0)


@pytest.mark.parametrize(
    "details",
    [
        {},  # matched on hashes alone: no geometry
        {"geometry": None, "query_size": [10, 10], "reference_size": [10, 10]},
        {"geometry": {"homography": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}},  # recorded before the frames were
        {"geometry": {"homography": [[0, 0, 0], [0, 0, 0], [0, 0, 1]]}, "query_size": [9, 9], "reference_size": [9, 9]},
        {"geometry": {"homography": "tampered"}, "query_size": [9, 9], "reference_size": [9, 9]},
        {"geometry": {"homography": [[1, 0, 500], [0, 1, 0], [0, 0, 1]]}, "query_size": [9, 9], "reference_size": [9, 9]},
    ],
)
def test_without_usable_geometry_nothing_is_outlined(details):
    assert match_drawing(details) is None


@pytest.mark.django_db
def test_a_near_duplicate_finding_records_both_frames_and_outlines_the_crop(settings, tmp_path, contributor, world):
    finding = near_duplicate_finding(settings, tmp_path, contributor, world.dataset, world.consent)
    work = ProtectedWork.objects.get(pk=finding.details["protected_work_id"])

    # The copy is the astronaut's rows 40-470 and columns 20-460, mirrored, recompressed.
    assert finding.details["query_size"] == [440, 430]
    assert finding.details["reference_size"] == [work.width, work.height] == [512, 512]
    drawing = match_drawing(finding.details)
    assert drawing is not None
    left, top, right, bottom = bounds(drawing.reference_outline)
    assert (left, top, right, bottom) == pytest.approx((20, 40, 460, 470), abs=6)
    assert bounds(drawing.asset_outline) == pytest.approx((0, 0, 440, 430), abs=6)
    assert drawing.asset_all and drawing.reference_percent == pytest.approx(72, abs=3)
