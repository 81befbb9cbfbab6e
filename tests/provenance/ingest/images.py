"""Builders of small test images carrying metadata, all made in code."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable

from PIL import Image
from PIL.PngImagePlugin import PngInfo
from PIL.TiffImagePlugin import IFDRational, ImageFileDirectory_v2

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GPS_IFD = 0x8825
EXIF_IFD = 0x8769
XMP_NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "plus": "http://ns.useplus.org/ldf/xmp/1.0/",
    "tdm": "http://www.w3.org/ns/tdmrep/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
}


def solid_image(size: tuple[int, int] = (32, 32), color: tuple[int, int, int] = (180, 40, 40)) -> Image.Image:
    return Image.new("RGB", size, color)


def encode(image: Image.Image, image_format: str, **save_arguments: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **save_arguments)
    return buffer.getvalue()


def jpeg_bytes(**save_arguments: object) -> bytes:
    return encode(solid_image(), "JPEG", **save_arguments)


def png_bytes(**save_arguments: object) -> bytes:
    return encode(solid_image(), "PNG", **save_arguments)


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def degrees_to_dms(degrees: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    whole = int(degrees)
    minutes = int((degrees - whole) * 60)
    seconds = round((degrees - whole - minutes / 60) * 3600 * 1000)
    return IFDRational(whole, 1), IFDRational(minutes, 1), IFDRational(seconds, 1000)


def exif_with_gps(latitude: float, longitude: float, altitude: float | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Cleanroom Camera Co"  # Make
    exif[0x0110] = "Model One"  # Model
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "S" if latitude < 0 else "N"
    gps[2] = degrees_to_dms(abs(latitude))
    gps[3] = "W" if longitude < 0 else "E"
    gps[4] = degrees_to_dms(abs(longitude))
    if altitude is not None:
        gps[5] = b"\x01" if altitude < 0 else b"\x00"
        gps[6] = IFDRational(round(abs(altitude) * 10), 10)
    return exif


def xmp_packet(body: str = "", attributes: str = "", namespaces: Iterable[str] = XMP_NAMESPACES) -> bytes:
    """An XMP packet with one rdf:Description holding `attributes` and child `body`."""
    declarations = " ".join(f'xmlns:{prefix}="{XMP_NAMESPACES[prefix]}"' for prefix in namespaces if prefix != "x")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF {declarations}>'
        f'<rdf:Description rdf:about="" {attributes}>{body}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def png_with_xmp(packet: bytes) -> bytes:
    chunks = PngInfo()
    chunks.add_itxt("XML:com.adobe.xmp", packet.decode("utf-8"), zip=False)
    return png_bytes(pnginfo=chunks)


def tiff_with_xmp(packet: bytes) -> bytes:
    tags = ImageFileDirectory_v2()
    tags[700] = packet
    tags.tagtype[700] = 1  # BYTE
    return encode(solid_image(), "TIFF", tiffinfo=tags)


def gif_with_xmp(packet: bytes) -> bytes:
    """Pillow does not read GIF XMP: this exercises the byte-scan fallback."""
    gif = encode(solid_image().convert("P"), "GIF")
    magic_trailer = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    extension = b"\x21\xff\x0bXMP DataXMP" + packet + magic_trailer
    return gif[:-1] + extension + gif[-1:]


def splice_after_soi(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    segment = struct.pack(">HH", 0xFF00 | marker, len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def iim_dataset(record: int, dataset: int, value: bytes) -> bytes:
    return struct.pack(">BBBH", 0x1C, record, dataset, len(value)) + value


def jpeg_with_iptc(datasets: Iterable[tuple[int, int, bytes]]) -> bytes:
    """IPTC-IIM inside a Photoshop 8BIM resource 0x0404 inside an APP13 segment."""
    iim = b"".join(iim_dataset(record, dataset, value) for record, dataset, value in datasets)
    padding = b"\x00" if len(iim) % 2 else b""
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iim)) + iim + padding
    return splice_after_soi(jpeg_bytes(), 0xED, b"Photoshop 3.0\x00" + resource)


def jpeg_with_raw_exif(tiff_payload: bytes) -> bytes:
    return splice_after_soi(jpeg_bytes(), 0xE1, b"Exif\x00\x00" + tiff_payload)


def corrupt_exif_payloads() -> list[bytes]:
    return [
        b"II*\x00\xff\xff\xff\x7f",  # first IFD offset far past the end
        b"MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x01\x0f\x00\x02\xff\xff\xff\xff\x00\x00\x00\x00",  # 65535 entries
        b"II*\x00\x08\x00\x00\x00\x01\x00\x69\x87\x04\x00\x01\x00\x00\x00\x08\x00\x00\x00",  # Exif IFD loops
        b"XX garbage that is no TIFF header at all",
    ]


def billion_laughs_packet() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{level} "{("&lol" + (str(level - 1) if level > 1 else "") + ";") * 10}">' for level in range(1, 10)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE x:xmpmeta [{entities}]>'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{XMP_NAMESPACES["rdf"]}" '
        f'xmlns:dc="{XMP_NAMESPACES["dc"]}"><rdf:Description dc:format="&lol9;"/></rdf:RDF></x:xmpmeta>'
    ).encode()


def flip_byte_in_scan_data(jpeg: bytes) -> bytes:
    """Changes one byte of the compressed pixels (just before EOI): the image still decodes."""
    tampered = bytearray(jpeg)
    tampered[-10] ^= 0x55
    return bytes(tampered)


def break_manifest_claim(signed: bytes) -> bytes:
    """Overwrites the type of the claim's JUMBF box (c2cl) so that no C2PA reader finds the claim."""
    claim_box_type = b"jumdc2cl"
    assert claim_box_type in signed, "no claim box in this file"
    broken = signed.replace(claim_box_type, b"jumdxxxx", 1)
    return with_png_crcs_recomputed(broken) if broken.startswith(PNG_SIGNATURE) else broken


def with_png_crcs_recomputed(png: bytes) -> bytes:
    """Pillow refuses chunks with a bad CRC; tampering tests want the file to still open."""
    fixed = bytearray(png)
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(fixed):
        length = int.from_bytes(fixed[position : position + 4], "big")
        body_end = position + 8 + length
        fixed[body_end : body_end + 4] = zlib.crc32(fixed[position + 4 : body_end]).to_bytes(4, "big")
        position = body_end + 4
    return bytes(fixed)
