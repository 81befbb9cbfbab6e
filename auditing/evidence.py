"""Where on the image a finding points, in the numbers an SVG overlay needs.

Pure arithmetic on what the detectors stored (no image is decoded: the web process runs this).
Two frames meet here. The PII detectors box what they find in the stored image's pixels as
stored (EXIF orientation not applied: the working copy keeps it as a tag), while a browser shows
the image turned the way its EXIF says; so a box is turned the same way before it is drawn. The
near-duplicate homography maps the asset as viewed (in the frame it was fingerprinted at,
`query_size`) onto the matched image as viewed (`reference_size`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Point = tuple[float, float]
Matrix = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]

# EXIF orientations that swap width and height (a quarter turn, with or without a mirror).
_QUARTER_TURNS = {5, 6, 7, 8}
# An outline covering this much of an image is "all of it" in words (the match is not exact).
_ALL = 0.95


@dataclass(frozen=True)
class Box:
    """One boxed finding, in the viewed image's pixels, with the words drawn beside it."""

    number: int
    finding_id: str
    left: float
    top: float
    width: float
    height: float
    label: str
    open: bool

    @property
    def label_y(self) -> float:
        # Above the box, unless the box touches the top edge: then just inside it.
        return self.top - 6 if self.top > 30 else self.top + self.height + 22


@dataclass(frozen=True)
class MatchDrawing:
    """A near-duplicate's geometry: the matched region outlined on each image (SVG `points`, in
    each image's own frame), and the homography that lays the matched image over the asset."""

    asset_size: tuple[int, int]
    reference_size: tuple[int, int]
    asset_outline: str
    reference_outline: str
    # Reference pixels → asset pixels, row by row (the CSS matrix3d the overlay uses).
    reference_to_asset: tuple[float, ...]
    # The share of each image inside its outline, 0 to 1.
    asset_share: float = 1.0
    reference_share: float = 1.0

    @property
    def asset_percent(self) -> int:
        return round(self.asset_share * 100)

    @property
    def reference_percent(self) -> int:
        return round(self.reference_share * 100)

    @property
    def asset_all(self) -> bool:
        return self.asset_share >= _ALL

    @property
    def reference_all(self) -> bool:
        return self.reference_share >= _ALL


def exif_orientation(metadata: dict[str, Any] | None) -> int:
    """The EXIF Orientation tag (1-8) ingest recorded, 1 when absent or nonsense."""
    value = ((metadata or {}).get("exif") or {}).get("Orientation")
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def viewed_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    return (height, width) if orientation in _QUARTER_TURNS else (width, height)


def oriented_point(x: float, y: float, width: int, height: int, orientation: int) -> Point:
    """A point of the stored pixels (`width` × `height`) where it shows once the EXIF
    orientation is applied (as Pillow's exif_transpose and browsers apply it)."""
    return {
        1: (x, y),
        2: (width - x, y),
        3: (width - x, height - y),
        4: (x, height - y),
        5: (y, x),
        6: (height - y, x),
        7: (height - y, width - x),
        8: (y, width - x),
    }[orientation]


def oriented_box(box: Sequence[float], width: int, height: int, orientation: int) -> tuple[float, float, float, float]:
    left, top, box_width, box_height = box
    corners = [
        oriented_point(x, y, width, height, orientation) for x in (left, left + box_width) for y in (top, top + box_height)
    ]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def pii_boxes(findings: Iterable[Any], *, width: int, height: int, orientation: int, label: Any) -> list[Box]:
    """The boxed findings (text read in the pixels, faces), numbered in the order given, in the
    viewed frame; `label(finding)` words each one."""
    boxes: list[Box] = []
    for finding in findings:
        box = (finding.details or {}).get("box")
        if finding.auditor != "pii" or box is None or not _is_box(box):
            continue
        left, top, box_width, box_height = oriented_box(box, width, height, orientation)
        boxes.append(
            Box(
                number=len(boxes) + 1,
                finding_id=str(finding.pk),
                left=left,
                top=top,
                width=box_width,
                height=box_height,
                label=label(finding),
                open=finding.status == "open",
            )
        )
    return boxes


def _is_box(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 4
        and all(isinstance(v, (int, float)) for v in value)
        and value[2] > 0
        and value[3] > 0
    )


def match_drawing(details: dict[str, Any]) -> MatchDrawing | None:
    """The outline of the matched region on both images, or None when the finding carries no
    usable geometry (a match on hashes alone, or one recorded before the frames were)."""
    geometry = details.get("geometry") or {}
    query, reference = _size(details.get("query_size")), _size(details.get("reference_size"))
    homography = _matrix(geometry.get("homography"))
    if query is None or reference is None or homography is None:
        return None
    inverse = _inverse(homography)
    if inverse is None:
        return None
    # Each image's corners carried onto the other, then cut to that image's edges: what remains
    # is the part of each image that the other one shows.
    on_reference = _clipped(_project_all(homography, _corners(query)), reference)
    on_asset = _clipped(_project_all(inverse, _corners(reference)), query)
    if len(on_reference) < 3 or len(on_asset) < 3:
        return None
    scale = inverse[2][2]
    return MatchDrawing(
        asset_size=query,
        reference_size=reference,
        asset_outline=_points(on_asset),
        reference_outline=_points(on_reference),
        reference_to_asset=tuple(value / scale for row in inverse for value in row),
        asset_share=_area(on_asset) / (query[0] * query[1]),
        reference_share=_area(on_reference) / (reference[0] * reference[1]),
    )


def _size(value: Any) -> tuple[int, int] | None:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
        return value[0], value[1]
    return None


def _matrix(value: Any) -> Matrix | None:
    try:
        rows = tuple(tuple(float(v) for v in row) for row in value)
    except (TypeError, ValueError):
        return None
    if len(rows) != 3 or any(len(row) != 3 for row in rows):
        return None
    return rows  # type: ignore[return-value]


def _inverse(m: Matrix) -> Matrix | None:
    (a, b, c), (d, e, f), (g, h, i) = m
    cofactors = (
        (e * i - f * h, c * h - b * i, b * f - c * e),
        (f * g - d * i, a * i - c * g, c * d - a * f),
        (d * h - e * g, b * g - a * h, a * e - b * d),
    )
    determinant = a * cofactors[0][0] + b * cofactors[1][0] + c * cofactors[2][0]
    if abs(determinant) < 1e-12:
        return None
    return tuple(tuple(v / determinant for v in row) for row in cofactors)  # type: ignore[return-value]


def _corners(size: tuple[int, int]) -> list[Point]:
    width, height = size
    return [(0.0, 0.0), (float(width), 0.0), (float(width), float(height)), (0.0, float(height))]


def _project_all(m: Matrix, points: list[Point]) -> list[Point]:
    projected = []
    for x, y in points:
        w = m[2][0] * x + m[2][1] * y + m[2][2]
        if w <= 1e-9:
            return []  # a corner behind the viewer: no meaningful outline
        projected.append(((m[0][0] * x + m[0][1] * y + m[0][2]) / w, (m[1][0] * x + m[1][1] * y + m[1][2]) / w))
    return projected


def _clipped(polygon: list[Point], size: tuple[int, int]) -> list[Point]:
    """Sutherland-Hodgman: the polygon cut to the rectangle 0..width × 0..height."""
    width, height = size
    edges = (
        (lambda p: p[0] >= 0, lambda p, q: _at_x(p, q, 0.0)),
        (lambda p: p[0] <= width, lambda p, q: _at_x(p, q, float(width))),
        (lambda p: p[1] >= 0, lambda p, q: _at_y(p, q, 0.0)),
        (lambda p: p[1] <= height, lambda p, q: _at_y(p, q, float(height))),
    )
    for inside, crossing in edges:
        if not polygon:
            break
        points, polygon = polygon, []
        for index, current in enumerate(points):
            previous = points[index - 1]
            if inside(current):
                if not inside(previous):
                    polygon.append(crossing(previous, current))
                polygon.append(current)
            elif inside(previous):
                polygon.append(crossing(previous, current))
    return polygon


def _at_x(p: Point, q: Point, x: float) -> Point:
    t = (x - p[0]) / (q[0] - p[0])
    return x, p[1] + t * (q[1] - p[1])


def _at_y(p: Point, q: Point, y: float) -> Point:
    t = (y - p[1]) / (q[1] - p[1])
    return p[0] + t * (q[0] - p[0]), y


def _area(polygon: list[Point]) -> float:
    """The shoelace formula."""
    doubled = sum(p[0] * q[1] - q[0] * p[1] for p, q in zip(polygon, polygon[1:] + polygon[:1], strict=True))
    return abs(doubled) / 2


def _points(polygon: list[Point]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in polygon)
