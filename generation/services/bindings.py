"""The two soft bindings of an output: an invisible watermark carrying its watermark id, and a
perceptual fingerprint registered in the output registry. Either one traces a copy whose
manifest was stripped back to the output (the lead's resolution service searches both).

The watermark is read back right after embedding: an image too small or too smooth to carry it,
or an id past the payload's range, is recorded as not watermarked (with the reason), and the
fingerprint is then its only soft binding; the manifest names only the bindings it has.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from PIL import Image

from auditing.similarity.near_duplicate import FINGERPRINT_VERSION, fingerprint_image

# The registry's algorithm name, as the manifest's soft-binding assertion names it.
FINGERPRINT_ALGORITHM = f"org.cleanroom.fingerprint.v{FINGERPRINT_VERSION}"
SOFT_BINDING_LABEL = "c2pa.soft-binding"


@dataclass(frozen=True)
class Watermarking:
    image: Image.Image  # the pixels to release: marked when `embedded`, else the original
    embedded: bool
    note: str


def watermark_apply(image: Image.Image, watermark_id: int) -> Watermarking:
    """Embed `watermark_id`; the original image, with the reason, when it cannot be carried.

    The mark counts as embedded only when it reads back from the marked pixels as strictly as
    `detect_watermark` will judge the output (embed_watermark's check: one decoder pass at the
    scale the mark was made; the mirrored attempt stays with the verifier).
    """
    from generation.watermark import PAYLOAD_BITS, WatermarkNotApplicable, embed_watermark

    if watermark_id >= 2**PAYLOAD_BITS:
        return Watermarking(image, False, f"watermark id {watermark_id} does not fit the {PAYLOAD_BITS}-bit payload")
    try:
        marked = embed_watermark(image, watermark_id, verify=True)
    except WatermarkNotApplicable as exc:
        return Watermarking(image, False, f"not watermarked: {exc}")
    return Watermarking(marked, True, "")


def fingerprint_bytes(image: Image.Image) -> bytes:
    """The registry entry for the released pixels. Entries need no mirrored features (queries
    carry them), which halves the entry."""
    return fingerprint_image(image, include_mirror=False).to_bytes()


def _block(value: str) -> list[dict]:
    return [{"scope": {}, "value": base64.b64encode(value.encode("ascii")).decode("ascii")}]


def soft_binding_assertions(*, output_id: str, watermark_id: int | None) -> list[dict]:
    """`c2pa.soft-binding` assertions, one per binding (the assertion holds one algorithm):
    the watermark's (its value: the output's watermark id, in decimal) when one was embedded,
    and the fingerprint registry's (its value: the output id, the registry's key). Values are
    base64 of ASCII text, as the assertion's `value` is a byte string."""
    from generation.watermark import watermark_algorithm

    assertions = []
    if watermark_id is not None:
        assertions.append(
            {
                "label": SOFT_BINDING_LABEL,
                "data": {
                    "alg": watermark_algorithm(),
                    "name": "invisible watermark carrying the output's watermark id",
                    "blocks": _block(str(watermark_id)),
                    "pad": [0],
                },
            }
        )
    assertions.append(
        {
            "label": SOFT_BINDING_LABEL,
            "data": {
                "alg": FINGERPRINT_ALGORITHM,
                "name": "perceptual fingerprint in the output registry, keyed by the output id",
                "blocks": _block(output_id),
                "pad": [0],
            },
        }
    )
    return assertions
