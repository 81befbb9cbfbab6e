"""The invisible watermark that carries an output's watermark id (one of the two soft bindings).

The backend is CLEANROOM_WATERMARK['BACKEND'] (generation/watermarks/): `rivagan` (the default;
rivaGan's ONNX models, 24-bit payload under an extended BCH code, see watermarks/rivagan.py),
`trustmark` (Adobe's TrustMark from operator-provided model files, the same payload code with
its own mask, see watermarks/trustmark.py), or the dotted path of a WatermarkBackend subclass.
`detect_watermark` reads the configured backend's mark first, then the marks of the backends it
`also_reads` (outputs made before a switch), each with an equal share of the false-positive limit.

`read_watermark`, `WatermarkReading` and `payload_word` measure the rivaGan mark whichever
backend is configured (bench/soft_binding.py, tests).
"""

from __future__ import annotations

from PIL import Image

from generation.watermark_payload import PAYLOAD_BITS
from generation.watermarks import configured_backend, readers
from generation.watermarks.base import (
    MAX_FALSE_POSITIVE,
    MIN_EMBED_AREA,
    WatermarkHit,
    WatermarkNotApplicable,
    check_applicable,
    to_rgb,
)
from generation.watermarks.rivagan import WATERMARK_ALGORITHM, WatermarkReading, payload_word, read

__all__ = [
    "MAX_FALSE_POSITIVE",
    "MIN_EMBED_AREA",
    "PAYLOAD_BITS",
    "WATERMARK_ALGORITHM",
    "WatermarkHit",
    "WatermarkNotApplicable",
    "WatermarkReading",
    "detect_watermark",
    "embed_watermark",
    "payload_word",
    "read_watermark",
    "watermark_algorithm",
]


def watermark_algorithm() -> str:
    """The configured backend's name in the C2PA soft-binding assertion."""
    return configured_backend().algorithm


def embed_watermark(image: Image.Image, payload: int, *, verify: bool = True) -> Image.Image:
    """A copy of `image` (RGB, or RGBA when it had alpha, same size) carrying `payload`.

    `payload` is a watermark id in [0, 2**PAYLOAD_BITS), allocated by the caller. Raises
    WatermarkNotApplicable when the image cannot carry it: too small, too elongated, or (with
    `verify`, the default: one more decoder pass) when the marked image does not read back,
    which is what happens on flat or very smooth images. The read-back is judged exactly as
    strictly as `detect_watermark` judges its first attempt (the same share of the false-positive
    limit), so a mark claimed here is one a verifier finds in the unmodified output.
    """
    backend = configured_backend()
    rgb = to_rgb(image)
    check_applicable(*rgb.size)
    marked = backend.embed(rgb, payload)
    if verify:
        hit = backend.read_back(marked, max_false_positive=MAX_FALSE_POSITIVE / len(readers(backend)))
        if hit is None or hit.payload != payload:
            raise WatermarkNotApplicable("the image is too flat to carry a readable watermark")
    if image.mode in ("RGBA", "LA", "PA"):
        marked.putalpha(image.getchannel("A"))
    return marked


def read_watermark(
    image: Image.Image, *, try_mirror: bool = True, stop_at_hit: bool = True, max_false_positive: float = MAX_FALSE_POSITIVE
) -> WatermarkReading | None:
    """Run the rivaGan decoder (whichever backend is configured: this is a measurement of the
    rivaGan mark) on `image` at each scale its mark may have been made at, as is and (with
    `try_mirror`) mirrored, one ~1 s pass per attempt, stopping at the first hit unless
    `stop_at_hit` is off; None when the image is too small to try."""
    configured_backend()  # a misconfigured backend is reported here too
    return read(image, try_mirror=try_mirror, stop_at_hit=stop_at_hit, max_false_positive=max_false_positive)


def detect_watermark(
    image: Image.Image, *, try_mirror: bool = True, max_false_positive: float = MAX_FALSE_POSITIVE
) -> WatermarkHit | None:
    """The watermark id carried by `image`, or None.

    A hit is reported only when an unmarked image would produce one this good with probability
    below `max_false_positive` (for all attempts together: each backend read, each scale, as is
    and mirrored when `try_mirror`). Images too small to hold a readable mark give None without
    decoding.
    """
    rgb = to_rgb(image)
    backends = readers(configured_backend())
    for backend in backends:
        hit = backend.detect(rgb, try_mirror=try_mirror, max_false_positive=max_false_positive / len(backends))
        if hit is not None:
            return hit
    return None
