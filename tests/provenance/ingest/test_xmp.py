from __future__ import annotations

import time

import pytest

from provenance.ingest.metadata import ExtractedMetadata, extract_metadata
from tests.provenance.ingest import images

DC = "http://purl.org/dc/elements/1.1/"
PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def extract(data: bytes, mime_type: str, **options: str) -> ExtractedMetadata:
    return extract_metadata(images.open_image(data), data, mime_type=mime_type, **options)


def rich_xmp_packet() -> bytes:
    return images.xmp_packet(
        attributes='xmp:CreatorTool="Cleanroom Paint 1.0" photoshop:City="Lisbon"',
        body=(
            "<dc:creator><rdf:Seq><rdf:li>Ana</rdf:li><rdf:li>Bo</rdf:li></rdf:Seq></dc:creator>"
            "<dc:subject><rdf:Bag><rdf:li>harbour</rdf:li><rdf:li>boats</rdf:li></rdf:Bag></dc:subject>"
            '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour at dawn</rdf:li></rdf:Alt></dc:title>'
            "<dc:format>image/jpeg</dc:format>"
            '<Iptc4xmpExt:DigitalSourceType rdf:resource="' + AI_GENERATED + '"/>'
            '<Iptc4xmpExt:LocationCreated><rdf:Bag><rdf:li rdf:parseType="Resource">'
            "<Iptc4xmpExt:City>Porto</Iptc4xmpExt:City></rdf:li></rdf:Bag></Iptc4xmpExt:LocationCreated>"
        ),
    )


def test_xmp_in_a_jpeg_is_keyed_by_namespace_uri_in_every_rdf_form() -> None:
    metadata = extract(images.jpeg_bytes(xmp=rich_xmp_packet()), "image/jpeg")

    assert metadata.xmp["{http://ns.adobe.com/xap/1.0/}CreatorTool"] == ["Cleanroom Paint 1.0"]
    assert metadata.xmp[f"{{{PHOTOSHOP}}}City"] == ["Lisbon"]
    assert metadata.xmp[f"{{{DC}}}creator"] == ["Ana", "Bo"]
    assert metadata.xmp[f"{{{DC}}}subject"] == ["harbour", "boats"]
    assert metadata.xmp[f"{{{DC}}}title"] == ["Harbour at dawn"]
    assert metadata.xmp[f"{{{DC}}}format"] == ["image/jpeg"]
    assert metadata.xmp[f"{{{IPTC_EXT}}}DigitalSourceType"] == [AI_GENERATED]
    assert metadata.xmp[f"{{{IPTC_EXT}}}City"] == ["Porto"]


@pytest.mark.parametrize(
    ("build", "mime_type"),
    [
        (lambda packet: images.png_with_xmp(packet), "image/png"),
        (lambda packet: images.encode(images.solid_image(), "WEBP", xmp=packet), "image/webp"),
        (lambda packet: images.tiff_with_xmp(packet), "image/tiff"),
        (lambda packet: images.gif_with_xmp(packet), "image/gif"),
    ],
    ids=["png-itxt", "webp", "tiff-tag-700", "gif-byte-scan"],
)
def test_xmp_is_read_from_every_supported_container(build, mime_type: str) -> None:
    metadata = extract(build(rich_xmp_packet()), mime_type)

    assert metadata.xmp[f"{{{DC}}}subject"] == ["harbour", "boats"]


@pytest.mark.parametrize(
    "packet",
    [
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF",
        b"\x00\x01\x02 not xml at all",
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='urn:wrong'/></x:xmpmeta>",
        b'<!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]><x>&ext;</x>',
    ],
    ids=["truncated", "binary", "no-rdf", "external-entity"],
)
def test_malformed_xmp_reads_as_empty(packet: bytes) -> None:
    metadata = extract(images.jpeg_bytes(xmp=packet), "image/jpeg")

    assert metadata.xmp == {}


def test_an_xml_entity_bomb_in_xmp_is_refused_quickly() -> None:
    started = time.perf_counter()

    metadata = extract(images.png_with_xmp(images.billion_laughs_packet()), "image/png")

    assert metadata.xmp == {}
    assert time.perf_counter() - started < 1.0


def test_deeply_nested_xmp_does_not_recurse_without_limit() -> None:
    body = "<dc:x rdf:parseType='Resource'>" * 5000 + "deep" + "</dc:x>" * 5000
    packet = images.xmp_packet(body=body, attributes='dc:format="image/png"')

    metadata = extract(images.png_with_xmp(packet), "image/png")

    assert metadata.xmp[f"{{{DC}}}format"] == ["image/png"]


def test_an_oversized_xmp_packet_is_skipped() -> None:
    packet = images.xmp_packet(body="<dc:description>" + "x" * (5 * 1024 * 1024) + "</dc:description>")

    assert extract(images.png_with_xmp(packet), "image/png").xmp == {}
