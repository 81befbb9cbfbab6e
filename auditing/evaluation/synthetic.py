"""The synthetic-input auditor's set: every IPTC digital source type, declared every way a
file carries it, read by the real metadata reader and judged by the real auditor.

The auditor reads declarations, not pixels: it flags a file whose XMP (IPTC Extension
`DigitalSourceType`) or C2PA actions say a trained model made it (`trainedAlgorithmicMedia`) or
took part (`compositeWithTrainedAlgorithmicMedia`). So the set is the declarations: each of the
IPTC codes the C2PA SDK knows, written in XMP as an attribute and as an element, with the
`http` and `https` vocabulary prefixes, in JPEG, PNG and WebP, plus files that declare nothing.
The label is the builder's reading of the IPTC vocabulary (positive: one of the two codes
above), never the auditor's. What the set cannot measure, by construction: a generated image
whose metadata was stripped, which no declaration-reading auditor can see (docs/auditors.md).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, PngImagePlugin

from auditing.evaluation.metrics import Figure, Measurement, Tally, ratio

TRAINED_MODEL_CODES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})
VOCABULARY_PREFIXES = ("http://cv.iptc.org/newscodes/digitalsourcetype/", "https://cv.iptc.org/newscodes/digitalsourcetype/")
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"


@dataclass(frozen=True)
class SyntheticCase:
    name: str
    data: bytes
    mime_type: str
    declared: str | None  # the IPTC code written into the file, None when nothing is declared
    synthetic: bool  # the label: a trained model made the image or took part in it


def iptc_codes() -> list[str]:
    """The IPTC digital source types the C2PA SDK knows, by their vocabulary names."""
    from provenance.c2pa.manifests import DIGITAL_SOURCE_TYPES

    return sorted(DIGITAL_SOURCE_TYPES)


def xmp_packet(value: str, *, as_element: bool) -> bytes:
    if as_element:
        description = f"<rdf:Description><Iptc4xmpExt:DigitalSourceType>{value}</Iptc4xmpExt:DigitalSourceType></rdf:Description>"
    else:
        description = f'<rdf:Description Iptc4xmpExt:DigitalSourceType="{value}"/>'
    return (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{_RDF}" xmlns:Iptc4xmpExt="{_IPTC_EXT}">'
        f"{description}</rdf:RDF></x:xmpmeta>"
    ).encode()


def _encoded(pixels: np.ndarray, image_format: str, xmp: bytes | None) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {}
    if xmp is not None and image_format == "PNG":
        # Pillow writes `xmp=` into JPEG and WebP only; a PNG carries its packet in an iTXt chunk.
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode())
        options["pnginfo"] = info
    elif xmp is not None:
        options["xmp"] = xmp
    Image.fromarray(pixels).save(buffer, format=image_format, **options)
    return buffer.getvalue()


def build_set(*, seed: int = 0, quick: bool = False) -> Iterator[SyntheticCase]:
    """Every code × attribute/element × vocabulary prefix × format, and undeclared files."""
    rng = np.random.default_rng(seed)
    formats = ("PNG",) if quick else tuple(FORMATS)
    for image_format in formats:
        for code in iptc_codes():
            for prefix in VOCABULARY_PREFIXES:
                for as_element in (False, True):
                    pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                    form = "element" if as_element else "attribute"
                    yield SyntheticCase(
                        name=f"{image_format.lower()}-{code}-{form}-{prefix.split(':')[0]}",
                        data=_encoded(pixels, image_format, xmp_packet(prefix + code, as_element=as_element)),
                        mime_type=FORMATS[image_format],
                        declared=code,
                        synthetic=code in TRAINED_MODEL_CODES,
                    )
        for index in range(4 if quick else 20):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            yield SyntheticCase(
                name=f"{image_format.lower()}-undeclared-{index}",
                data=_encoded(pixels, image_format, None),
                mime_type=FORMATS[image_format],
                declared=None,
                synthetic=False,
            )


def c2pa_cases(*, seed: int = 1) -> Iterator[SyntheticCase]:
    """Every code as the digital source type of a signed C2PA `c2pa.created` action (no XMP),
    signed by this installation's identity; raises ApplicationError when it has none."""
    from provenance.c2pa.manifests import sign_image

    rng = np.random.default_rng(seed)
    for code in iptc_codes():
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        signed = sign_image(
            image=_encoded(pixels, "PNG", None),
            mime_type="image/png",
            title=code,
            assertions=[],
            ingredients=[],
            digital_source_type=code,
        )
        yield SyntheticCase(
            name=f"c2pa-{code}", data=signed, mime_type="image/png", declared=code, synthetic=code in TRAINED_MODEL_CODES
        )


def flagged(case: SyntheticCase) -> bool:
    """What the auditor decides about the file, read as ingest reads it."""
    from auditing.auditors.base import AuditSubject
    from auditing.auditors.synthetic import SyntheticAuditor
    from provenance.ingest.metadata import extract_metadata

    with Image.open(io.BytesIO(case.data)) as image:
        metadata = extract_metadata(image, case.data, mime_type=case.mime_type).as_json()
    subject = AuditSubject(
        asset_id=case.name,
        sha256="",
        metadata=metadata,
        caption="",
        original_name=case.name,
        open_file=lambda: io.BytesIO(case.data),
    )
    return bool(SyntheticAuditor().audit(subject))


def measure(quick: bool = False) -> Measurement:
    from core.exceptions import ApplicationError

    by_format: dict[str, Tally] = {}
    overall = Tally()
    for case in build_set(quick=quick):
        found = flagged(case)
        overall.add(expected=case.synthetic, found=found)
        by_format.setdefault(f"{case.mime_type} (XMP)", Tally()).add(expected=case.synthetic, found=found)
    notes = [
        "declarations only: a generated image whose metadata was stripped is not in the set and cannot be found by this auditor"
    ]
    try:
        for case in c2pa_cases():
            found = flagged(case)
            overall.add(expected=case.synthetic, found=found)
            by_format.setdefault("image/png (C2PA)", Tally()).add(expected=case.synthetic, found=found)
    except ApplicationError as exc:
        notes.append(f"C2PA-declared cases not measured: no signing identity here ({exc})")
    rows: list[list[object]] = [
        [mime, tally.positives, tally.negatives, _shown(tally.recall), _shown(tally.precision), tally.false_positives]
        for mime, tally in sorted(by_format.items())
    ]
    rows.append(
        ["all", overall.positives, overall.negatives, _shown(overall.recall), _shown(overall.precision), overall.false_positives]
    )
    return Measurement(
        auditor="synthetic",
        headers=["declared in", "declared synthetic", "other or none", "recall", "precision", "false positives"],
        rows=rows,
        figures=[
            Figure("accuracy.synthetic.recall", ratio(overall.recall), "ratio", ">=", 1.0),
            Figure("accuracy.synthetic.precision", ratio(overall.precision), "ratio", ">=", 1.0),
        ],
        notes=notes,
    )


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
