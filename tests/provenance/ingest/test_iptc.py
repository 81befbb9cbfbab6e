from __future__ import annotations

from provenance.ingest.metadata import ExtractedMetadata, extract_metadata
from tests.provenance.ingest import images


def extract(data: bytes, mime_type: str, **options: str) -> ExtractedMetadata:
    return extract_metadata(images.open_image(data), data, mime_type=mime_type, **options)


def test_iptc_datasets_in_a_jpeg_app13_segment_are_read_by_name() -> None:
    data = images.jpeg_with_iptc(
        [
            (1, 90, b"\x1b%G"),  # CodedCharacterSet: UTF-8
            (2, 5, b"Harbour"),
            (2, 25, b"boats"),
            (2, 25, "Zürich".encode()),
            (2, 80, b"Ana Photographer"),
            (2, 90, b"Porto"),
            (2, 101, b"Portugal"),
            (2, 110, b"Cleanroom Agency"),
            (2, 115, b"Staff"),
            (2, 116, "© 2024 Ana".encode()),
            (2, 120, b"Boats in the harbour at dawn"),
        ]
    )

    iptc = extract(data, "image/jpeg").iptc

    assert iptc == {
        "ObjectName": "Harbour",
        "Keywords": ["boats", "Zürich"],
        "By-line": "Ana Photographer",
        "City": "Porto",
        "Country-PrimaryLocationName": "Portugal",
        "Credit": "Cleanroom Agency",
        "Source": "Staff",
        "CopyrightNotice": "© 2024 Ana",
        "Caption-Abstract": "Boats in the harbour at dawn",
    }


def test_iptc_text_that_is_not_utf8_is_read_as_latin1() -> None:
    data = images.jpeg_with_iptc([(2, 116, "© Zoë".encode("latin-1"))])

    assert extract(data, "image/jpeg").iptc == {"CopyrightNotice": "© Zoë"}


def test_a_truncated_iptc_block_keeps_what_it_could_read() -> None:
    data = images.jpeg_with_iptc([(2, 5, b"Title"), (2, 25, b"x" * 10)])
    cut = data.replace(images.iim_dataset(2, 25, b"x" * 10), b"\x1c\x02\x19\x7f\xff" + b"x" * 10)

    assert extract(cut, "image/jpeg").iptc["ObjectName"] == "Title"
