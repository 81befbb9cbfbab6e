from __future__ import annotations

import json

import c2pa
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from provenance.ingest.metadata import ExtractedMetadata, extract_metadata
from tests.provenance.ingest import images
from tests.provenance.ingest.c2pa_signing import sign_image

XMP_EXIF = "http://ns.adobe.com/exif/1.0/"
AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def extract(data: bytes, mime_type: str, **options: str) -> ExtractedMetadata:
    return extract_metadata(images.open_image(data), data, mime_type=mime_type, **options)


def test_exif_tags_are_read_by_name_as_json_safe_values() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Cleanroom Camera Co"  # Make
    exif[0x011A] = IFDRational(300, 1)  # XResolution
    exif[0x013B] = "A" * 5000  # Artist
    exif[0x8298] = "(c) Someone\x00"  # Copyright, NUL-padded as cameras write it
    details = exif.get_ifd(images.EXIF_IFD)
    details[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal
    details[0x9286] = b"ASCII\x00\x00\x00a comment"  # UserComment
    details[0xA302] = b"\x00\x02\x00\x02\x00\x01\x01\x02"  # CFAPattern: binary
    details[0x927C] = b"\x01\x02vendor blob"  # MakerNote

    metadata = extract(images.jpeg_bytes(exif=exif), "image/jpeg")

    assert metadata.exif["Make"] == "Cleanroom Camera Co"
    assert metadata.exif["XResolution"] == 300.0
    assert metadata.exif["DateTimeOriginal"] == "2024:05:06 07:08:09"
    assert metadata.exif["UserComment"] == "a comment"
    assert metadata.exif["CFAPattern"] == "0002000200010102"
    assert metadata.exif["Copyright"] == "(c) Someone"
    assert len(metadata.exif["Artist"]) == 2000
    assert "MakerNote" not in metadata.exif
    assert "ExifOffset" not in metadata.exif
    json.dumps(metadata.as_json())


def test_gps_from_the_exif_gps_ifd_is_in_decimal_degrees_with_south_and_west_negative() -> None:
    exif = images.exif_with_gps(latitude=-33.8568, longitude=-70.6483, altitude=520.0)

    metadata = extract(images.jpeg_bytes(exif=exif), "image/jpeg")

    assert metadata.gps == {
        "latitude": pytest.approx(-33.8568, abs=1e-5),
        "longitude": pytest.approx(-70.6483, abs=1e-5),
        "altitude": 520.0,
        "source": "exif",
    }
    assert metadata.exif["GPSInfo"]["GPSLatitudeRef"] == "S"


def test_an_altitude_below_sea_level_is_negative() -> None:
    exif = images.exif_with_gps(latitude=31.5, longitude=35.5, altitude=-430.5)

    assert extract(images.jpeg_bytes(exif=exif), "image/jpeg").gps["altitude"] == -430.5


def test_gps_with_a_zero_denominator_is_ignored_not_raised() -> None:
    exif = images.exif_with_gps(latitude=10.0, longitude=20.0)
    exif.get_ifd(images.GPS_IFD)[2] = (IFDRational(1, 0), IFDRational(0, 1), IFDRational(0, 1))

    metadata = extract(images.jpeg_bytes(exif=exif), "image/jpeg")

    assert metadata.gps is None
    json.dumps(metadata.as_json())


def test_xmp_gps_is_used_when_the_exif_has_none() -> None:
    packet = images.xmp_packet(
        attributes=('exif:GPSLatitude="52,31.5N" exif:GPSLongitude="13,24,36W" exif:GPSAltitude="345/10" exif:GPSAltitudeRef="1"')
    )

    metadata = extract(images.jpeg_bytes(xmp=packet), "image/jpeg")

    assert metadata.gps == {
        "latitude": pytest.approx(52.525),
        "longitude": pytest.approx(-13.41),
        "altitude": pytest.approx(-34.5),
        "source": "xmp",
    }


def test_exif_gps_wins_over_xmp_gps() -> None:
    packet = images.xmp_packet(attributes='exif:GPSLatitude="1,0N" exif:GPSLongitude="1,0E"')
    exif = images.exif_with_gps(latitude=45.0, longitude=9.0)

    assert extract(images.jpeg_bytes(exif=exif, xmp=packet), "image/jpeg").gps["source"] == "exif"


def test_a_file_without_metadata_reads_as_empty() -> None:
    metadata = extract(images.png_bytes(), "image/png")

    assert (metadata.exif, metadata.gps, metadata.xmp, metadata.iptc) == ({}, None, {}, {})
    assert metadata.c2pa is None
    assert metadata.digital_source_type is None


def test_digital_source_type_comes_from_the_c2pa_actions() -> None:
    data = sign_image(images.jpeg_bytes(), "image/jpeg", digital_source_type=c2pa.C2paDigitalSourceType.TRAINED_ALGORITHMIC_MEDIA)

    assert extract(data, "image/jpeg").digital_source_type == AI_GENERATED


def test_digital_source_type_falls_back_to_xmp() -> None:
    packet = images.xmp_packet(attributes=f'Iptc4xmpExt:DigitalSourceType="{AI_GENERATED}"')

    assert extract(images.jpeg_bytes(xmp=packet), "image/jpeg").digital_source_type == AI_GENERATED


def test_as_json_output_survives_json_dumps_and_has_no_nul_characters() -> None:
    exif = Image.Exif()
    exif[0x010E] = "caption\x00with\x00nuls"  # ImageDescription
    exif[0x0131] = b"\xff\xfe binary \x01\x02"  # Software, as raw bytes
    packet = images.xmp_packet(attributes='dc:format="image/jpeg"')

    text = json.dumps(extract(images.jpeg_bytes(exif=exif, xmp=packet), "image/jpeg").as_json(), allow_nan=False)

    assert "\\u0000" not in text
    assert set(json.loads(text)) == {"exif", "gps", "xmp", "iptc", "c2pa", "digital_source_type"}


@pytest.mark.filterwarnings("ignore:.*:UserWarning:PIL")  # Pillow warns about the corruption it skips
@pytest.mark.parametrize("payload", images.corrupt_exif_payloads())
def test_corrupt_exif_does_not_raise(payload: bytes) -> None:
    data = images.jpeg_with_raw_exif(payload)

    metadata = extract(data, "image/jpeg")

    assert metadata.gps is None
    json.dumps(metadata.as_json())
