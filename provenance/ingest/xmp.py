"""Finds and parses an image's XMP packet.

The packet is hostile input: malformed or oversized packets, DTDs, XML entity bombs and deep
nesting all read as empty or are cut short; nothing here raises.
"""

from __future__ import annotations

from typing import Any

import defusedxml.ElementTree as SafeElementTree
from PIL import Image

from provenance.ingest.filebytes import ByteSource
from provenance.ingest.jsonsafe import MAX_LIST_ITEMS, MAX_TEXT_CHARS, clean_text

MAX_XMP_BYTES = 4 * 1024 * 1024
MAX_XMP_DEPTH = 24
TIFF_XMP_TAG = 700

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
RDF_DESCRIPTION = f"{{{RDF}}}Description"
RDF_LI = f"{{{RDF}}}li"
RDF_RESOURCE = f"{{{RDF}}}resource"
RDF_PARSE_TYPE = f"{{{RDF}}}parseType"
RDF_CONTAINERS = frozenset({f"{{{RDF}}}Bag", f"{{{RDF}}}Seq", f"{{{RDF}}}Alt"})
XMP_EXIF_NS = "http://ns.adobe.com/exif/1.0/"
XMP_DIGITAL_SOURCE_TYPE = "{http://iptc.org/std/Iptc4xmpExt/2008-02-29/}DigitalSourceType"
XMP_PROVENANCE = "{http://purl.org/dc/terms/}provenance"
# Pillow exposes XMP of these formats in image.info; others need a scan of the bytes.
FORMATS_WITH_NATIVE_XMP = frozenset({"image/jpeg", "image/png", "image/webp", "image/tiff", "image/avif"})


def raw_xmp_packet(image: Image.Image, data: ByteSource, mime_type: str) -> bytes | None:
    packet = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if not packet:
        try:
            packet = image.getexif().get(TIFF_XMP_TAG)
        except Exception:
            packet = None
    if not packet and mime_type not in FORMATS_WITH_NATIVE_XMP:
        packet = _find_xmp_packet(data)
    if isinstance(packet, str):
        packet = packet.encode("utf-8", errors="replace")
    return packet if isinstance(packet, bytes) else None


def _find_xmp_packet(data: ByteSource) -> bytes | None:
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return None
    end = data.find(b"</x:xmpmeta>", start, start + MAX_XMP_BYTES)
    return data[start : end + len(b"</x:xmpmeta>")] if end >= 0 else None


def parse_xmp(packet: bytes | None) -> dict[str, list[str]]:
    """Properties keyed "{namespace-uri}LocalName"; structure fields are flattened in."""
    if not packet or len(packet) > MAX_XMP_BYTES:
        return {}
    start = packet.find(b"<")  # some writers put padding or a stray BOM before the packet
    try:
        root = SafeElementTree.fromstring(packet[max(start, 0) :].rstrip(b"\x00 \t\r\n"), forbid_dtd=True)
    except Exception:  # ParseError, DTDForbidden, EntitiesForbidden, ValueError...
        return {}
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f".//{{{RDF}}}RDF")
    properties: dict[str, list[str]] = {}
    for description in rdf if rdf is not None else ():
        _collect_node(description, properties, depth=0)
    return properties


def first_value(properties: dict, key: str) -> str | None:
    values = properties.get(key)
    return values[0] if values else None


def _collect_node(node: Any, properties: dict[str, list[str]], depth: int) -> None:
    if depth > MAX_XMP_DEPTH:
        return
    if node.tag == RDF_DESCRIPTION or node.tag == RDF_LI:
        _collect_attributes(node, properties)
        for child in node:
            _collect_node(child, properties, depth + 1)
    elif isinstance(node.tag, str):
        _collect_property(node, properties, depth)


def _collect_property(element: Any, properties: dict[str, list[str]], depth: int) -> None:
    resource = element.get(RDF_RESOURCE)
    if resource is not None:
        _add_value(properties, element.tag, resource)
        return
    children = list(element)
    if not children:
        _collect_attributes(element, properties)  # a structure written as attributes
        text = (element.text or "").strip()
        if text or not _is_structure(element):
            _add_value(properties, element.tag, text)
        return
    for child in children:
        if child.tag in RDF_CONTAINERS:
            _collect_container_items(element.tag, child, properties, depth)
        else:
            _collect_node(child, properties, depth + 1)


def _collect_container_items(name: str, container: Any, properties: dict[str, list[str]], depth: int) -> None:
    for item in container:
        if item.tag != RDF_LI:
            continue
        if _is_structure(item):
            _collect_node(item, properties, depth + 1)
        else:
            _add_value(properties, name, item.get(RDF_RESOURCE) or (item.text or "").strip())


def _is_structure(element: Any) -> bool:
    return (
        len(element) > 0
        or element.get(RDF_PARSE_TYPE) == "Resource"
        or any(not _is_syntax_attribute(name) for name in element.attrib)
    )


def _collect_attributes(element: Any, properties: dict[str, list[str]]) -> None:
    for name, value in element.attrib.items():
        if not _is_syntax_attribute(name):
            _add_value(properties, name, value)


def _is_syntax_attribute(name: str) -> bool:
    return name.startswith((f"{{{RDF}}}", f"{{{XML_NS}}}")) or not name.startswith("{")


def _add_value(properties: dict[str, list[str]], name: str, value: str) -> None:
    values = properties.setdefault(name, [])
    if len(values) < MAX_LIST_ITEMS:
        values.append(clean_text(value, MAX_TEXT_CHARS))
