"""The files a contributor uploads through the portal, good and bad, as bytes."""

from __future__ import annotations

import io
import zipfile

from tests.provenance.factories import image_bytes

# The PLUS "data mining" field set to "prohibited for AI/ML training": an embedded opt-out.
_PROHIBITED = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
    b'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def optout_jpeg(seed: int) -> bytes:
    """A JPEG whose XMP says it must not be used for AI training."""
    return image_bytes(seed, xmp=_PROHIBITED)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def mixed_batch(count: int = 20, *, seed: int = 500) -> dict[str, bytes]:
    """`count` files: one opt-out image, one text file that is not an image, one empty file,
    the rest good photographs (distinct bytes)."""
    files = {"optout.jpg": optout_jpeg(seed), "notes.pdf": b"%PDF-1.4 not an image at all", "empty.jpg": b""}
    for index in range(count - len(files)):
        files[f"photo-{index:02d}.jpg"] = image_bytes(seed + 1 + index)
    return files


def expected_reasons(files: dict[str, bytes]) -> dict[str, str]:
    """What the pipeline answers for a `mixed_batch`: the reason word per refused file."""
    return {
        name: reason
        for name, reason in {"optout.jpg": "optout", "notes.pdf": "unsupported_type", "empty.jpg": "invalid_image"}.items()
        if name in files
    }
