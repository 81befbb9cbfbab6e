"""What a generation request may ask for: the rules, the defaults, and the input images.

Pure checks (no database): each refusal is an ApplicationError with a stable code, raised
before a job exists. The parameters a job records are the ones after defaults were applied,
so the job can be re-run exactly with its seed.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from PIL import Image

from core.exceptions import ApplicationError
from generation.models import JobKind
from provenance.ingest.inspect import sniff_and_decode
from provenance.ingest.refusals import Refused

MAX_STEPS = 200
MAX_PROMPT_CHARS = 2000
MAX_GUIDANCE = 30.0
MIN_SIDE = 64
# The VAE works on 8-pixel blocks: sizes are multiples of this.
SIZE_MULTIPLE = 8
UPSCALE_FACTORS = (2, 3, 4)
# A text-to-image request without a size gets the model's native size (`BaseModel.native_size`,
# as diffusers defaults); this when the base model's configs did not say (Stable Diffusion 1.x's).
DEFAULT_SIZE = 512
# A side more than this many times the native one is accepted with a warning on the job: the
# UNet's attention grows with the square of the latent pixels, so a 64² model asked for 512²
# spends 4,096 times the attention of its native size (and rarely makes a coherent picture).
FAR_ABOVE_NATIVE = 2
DEFAULT_GUIDANCE = 7.5
DEFAULT_STRENGTH = {JobKind.IMAGE_TO_IMAGE: 0.75, JobKind.INPAINT: 1.0, JobKind.UPSCALE: 0.3}
SEED_LIMIT = 2**63  # torch.Generator.manual_seed takes any 64-bit value; a BigIntegerField holds it

KNOWN = {
    JobKind.TEXT_TO_IMAGE: {"prompt", "negative_prompt", "steps", "guidance", "width", "height"},
    JobKind.IMAGE_TO_IMAGE: {"prompt", "negative_prompt", "steps", "guidance", "strength"},
    JobKind.INPAINT: {"prompt", "negative_prompt", "steps", "guidance", "strength"},
    JobKind.UPSCALE: {"prompt", "negative_prompt", "steps", "guidance", "strength", "scale"},
}
NEEDS_IMAGE = {JobKind.IMAGE_TO_IMAGE, JobKind.INPAINT, JobKind.UPSCALE}


@dataclass
class CheckedRequest:
    kind: str
    parameters: dict[str, Any]
    seed: int
    image: bytes | None = None
    mask: bytes | None = None
    warnings: list[str] = field(default_factory=list)


def _refuse(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code, status=400)


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _refuse(f"{name} must be an integer", "invalid_parameter")
    try:
        number = int(value)
    except ValueError:
        raise _refuse(f"{name} must be an integer, not {value!r}", "invalid_parameter") from None
    if not low <= number <= high:
        raise _refuse(f"{name} must be between {low} and {high}, not {number}", "invalid_parameter")
    return number


def _float(value: Any, name: str, low: float, high: float, *, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _refuse(f"{name} must be a number", "invalid_parameter")
    try:
        number = float(value)
    except ValueError:
        raise _refuse(f"{name} must be a number, not {value!r}", "invalid_parameter") from None
    if not math.isfinite(number) or number > high or number < low or (low_open and number == low):
        bound = f"above {low}" if low_open else f"at least {low}"
        raise _refuse(f"{name} must be {bound} and at most {high}, not {value}", "invalid_parameter")
    return number


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _refuse(f"{name} must be text", "invalid_parameter")
    if len(value) > MAX_PROMPT_CHARS:
        raise _refuse(f"{name} is {len(value)} characters; the limit is {MAX_PROMPT_CHARS}", "invalid_parameter")
    return value.replace("\x00", "")


def max_pixels() -> int:
    return int(settings.CLEANROOM_GENERATION["MAX_PIXELS"])


def _check_size(width: int, height: int, what: str) -> None:
    if width * height > max_pixels():
        raise _refuse(f"{what} {width}×{height} = {width * height} pixels is over the limit of {max_pixels()}", "too_large")


def _multiple(value: int) -> int:
    return max(SIZE_MULTIPLE, value - value % SIZE_MULTIPLE)


def decode_image(data: bytes, what: str) -> Image.Image:
    """An uploaded image, decoded fully under the ingest limits (type sniffed from its bytes)."""
    from provenance.services.ingest import ingest_limits

    limits, _ = ingest_limits()
    try:
        image = sniff_and_decode(data, limits)
    except Refused as refused:
        raise _refuse(f"the {what} is not a usable image: {refused.detail}", str(refused.reason)) from None
    return image


def check_request(
    *,
    kind: str,
    parameters: dict[str, Any],
    seed: int | None,
    image: bytes | None = None,
    mask: bytes | None = None,
    native_size: tuple[int, int] | None = None,
) -> CheckedRequest:
    """The request with defaults applied, or an ApplicationError saying what is wrong with it.

    `native_size` is the model's (width, height): a text-to-image request's default size, and
    what a size far above it (`FAR_ABOVE_NATIVE` per side) is warned against.
    """
    if kind not in JobKind.values:
        raise _refuse(f"unknown kind {kind!r}; one of {', '.join(JobKind.values)}", "unknown_kind")
    kind = JobKind(kind)
    unknown = set(parameters) - KNOWN[kind]
    if unknown:
        raise _refuse(f"{kind} does not take {', '.join(sorted(unknown))}", "invalid_parameter")
    checked: dict[str, Any] = {
        "prompt": _text(parameters.get("prompt"), "prompt").strip(),
        "negative_prompt": _text(parameters.get("negative_prompt"), "negative_prompt"),
        "steps": _int(parameters.get("steps", settings.CLEANROOM_GENERATION["DEFAULT_STEPS"]), "steps", 1, MAX_STEPS),
        "guidance": _float(parameters.get("guidance", DEFAULT_GUIDANCE), "guidance", 0.0, MAX_GUIDANCE),
    }
    if kind != JobKind.UPSCALE and not checked["prompt"]:
        raise _refuse(f"{kind} needs a prompt", "prompt_required")
    if seed is None:
        seed = secrets.randbelow(2**31)
    seed = _int(seed, "seed", 0, SEED_LIMIT - 1)
    if kind not in NEEDS_IMAGE:
        if image is not None or mask is not None:
            raise _refuse("text_to_image takes no input image or mask", "invalid_parameter")
        default_width, default_height = _default_size(native_size)
        checked["width"] = _size(parameters.get("width", default_width), "width")
        checked["height"] = _size(parameters.get("height", default_height), "height")
        _check_size(checked["width"], checked["height"], "the image")
        return CheckedRequest(kind, checked, seed, warnings=_size_warnings(checked, native_size))
    checked["strength"] = _float(parameters.get("strength", DEFAULT_STRENGTH[kind]), "strength", 0.0, 1.0, low_open=True)
    if image is None:
        raise _refuse(f"{kind} needs an input image", "input_image_required")
    if kind == JobKind.INPAINT and mask is None:
        raise _refuse("inpainting needs a mask (white where the image is to be repainted)", "mask_required")
    if kind != JobKind.INPAINT and mask is not None:
        raise _refuse(f"{kind} takes no mask", "invalid_parameter")
    decoded = decode_image(image, "input image")
    width, height = decoded.size
    _check_size(width, height, "the input image")
    if kind == JobKind.UPSCALE:
        checked["scale"] = _int(parameters.get("scale", 2), "scale", min(UPSCALE_FACTORS), max(UPSCALE_FACTORS))
        width, height = width * checked["scale"], height * checked["scale"]
        _check_size(width, height, "the upscaled image")
    checked["width"], checked["height"] = _multiple(width), _multiple(height)
    if min(checked["width"], checked["height"]) < MIN_SIDE:
        raise _refuse(f"the output would be {width}×{height}; each side must be at least {MIN_SIDE}", "too_small")
    if mask is not None:
        decoded_mask = decode_image(mask, "mask")
        if decoded_mask.size != decoded.size:
            raise _refuse(
                f"the mask is {decoded_mask.width}×{decoded_mask.height}, the image {decoded.width}×{decoded.height}",
                "mask_size_mismatch",
            )
    _check_steps_run(kind, checked)
    return CheckedRequest(kind, checked, seed, image=image, mask=mask, warnings=_size_warnings(checked, native_size))


def _default_size(native_size: tuple[int, int] | None) -> tuple[int, int]:
    if native_size is None:
        return DEFAULT_SIZE, DEFAULT_SIZE
    # Within the limits a request may ask for: a multiple of 8, at least MIN_SIDE.
    width, height = (max(MIN_SIDE, _multiple(side)) for side in native_size)
    return width, height


def _size_warnings(checked: dict[str, Any], native_size: tuple[int, int] | None) -> list[str]:
    if native_size is None:
        return []
    native_width, native_height = native_size
    if checked["width"] <= FAR_ABOVE_NATIVE * native_width and checked["height"] <= FAR_ABOVE_NATIVE * native_height:
        return []
    return [
        f"{checked['width']}×{checked['height']} is more than {FAR_ABOVE_NATIVE}× the model's native "
        f"{native_width}×{native_height} per side: slow, and rarely a coherent picture"
    ]


def _size(value: Any, name: str) -> int:
    number = _int(value, name, MIN_SIDE, 16384)
    if number % SIZE_MULTIPLE:
        raise _refuse(f"{name} must be a multiple of {SIZE_MULTIPLE}, not {number}", "invalid_parameter")
    return number


def _check_steps_run(kind: str, checked: dict[str, Any]) -> None:
    # Image-to-image pipelines run steps × strength denoising steps: at least one must run.
    if int(checked["steps"] * checked["strength"]) < 1:
        raise _refuse(
            f"steps × strength = {checked['steps']} × {checked['strength']} runs no denoising step; raise either",
            "invalid_parameter",
        )
