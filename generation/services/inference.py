"""Running a job's pipeline: text-to-image, image-to-image, inpainting and upscaling.

One model's pipeline is loaded once per worker process (`training.pipelines.load_model_pipeline`:
base model + LoRA, digests checked) and kept, keyed by model id and device; the image-to-image
and inpainting pipelines are built from the same components (`from_pipe`), so they share its
weights and its LoRA. torch and diffusers are imported here only, on first use: the web
process never imports this module.

- Inpainting keeps the input's pixels outside the mask exactly: the pipeline repaints the
  masked region (white = repaint), then its result is pasted into the input through the mask.
  A plain (4-channel) UNet inpaints by blending latents, and the VAE round trip would
  otherwise alter every pixel of the image, including those the caller asked to keep.
- Upscaling resizes the input by `scale` with Lanczos, then runs image-to-image at a low
  strength (default 0.3) so the model adds detail without changing the picture.

The seed drives a CPU `torch.Generator`, so a job gives the same latents on any device.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

from PIL import Image

from core.storage import blob_open
from generation.models import GenerationJob, JobKind
from training.models import ModelArtifact

# Pipelines kept per process: a GPU worker serving a few models must not reload one per job,
# nor hold every model it ever served in memory.
MAX_CACHED_PIPELINES = 2

_pipelines: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def _reset_after_fork() -> None:
    # A pipeline loaded before a prefork pool forks must not be shared by its children (torch's
    # thread pools and CUDA contexts do not survive fork); a held lock would stay held.
    global _lock
    _pipelines.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def pipelines_for(artifact: ModelArtifact, device: str) -> dict[str, Any]:
    """The model's text-to-image pipeline (key `text`), loaded on first use in this process.

    Keyed by the LoRA's sha256 as well as the model id: a model is immutable, so a different
    digest can only mean a different row, never a stale pipeline served under the same id.
    """
    from training.pipelines import load_model_pipeline

    key = (str(artifact.pk), artifact.sha256, device)
    with _lock:
        if key in _pipelines:
            _pipelines.move_to_end(key)
            return _pipelines[key]
        pipeline = load_model_pipeline(artifact, device)
        pipeline.set_progress_bar_config(disable=True)
        _pipelines[key] = {"text": pipeline}
        while len(_pipelines) > MAX_CACHED_PIPELINES:
            _pipelines.popitem(last=False)
        return _pipelines[key]


def forget_pipelines() -> None:
    with _lock:
        _pipelines.clear()


def _derived(pipelines: dict[str, Any], kind: str) -> Any:
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionInpaintPipeline

    classes = {"image": StableDiffusionImg2ImgPipeline, "inpaint": StableDiffusionInpaintPipeline}
    with _lock:
        if kind not in pipelines:
            derived = classes[kind].from_pipe(pipelines["text"])
            derived.set_progress_bar_config(disable=True)
            pipelines[kind] = derived
        return pipelines[kind]


def _blob_image(sha256: str, mode: str) -> Image.Image:
    with blob_open(sha256) as handle:
        image = Image.open(handle)
        image.load()
    return image.convert(mode)


def _fit(image: Image.Image, width: int, height: int) -> Image.Image:
    if image.size == (width, height):
        return image
    return image.resize((width, height), Image.Resampling.LANCZOS)


def generate(job: GenerationJob, pipelines: dict[str, Any]) -> Image.Image:
    """The job's image (RGB), made with its parameters and seed."""
    import torch

    p = job.parameters
    common = {
        "prompt": p["prompt"],
        "negative_prompt": p["negative_prompt"] or None,
        "num_inference_steps": p["steps"],
        "guidance_scale": p["guidance"],
        "generator": torch.Generator("cpu").manual_seed(job.seed),
    }
    width, height = p["width"], p["height"]
    with torch.inference_mode():
        if job.kind == JobKind.TEXT_TO_IMAGE:
            result = pipelines["text"](width=width, height=height, **common).images[0]
        elif job.kind == JobKind.IMAGE_TO_IMAGE or job.kind == JobKind.UPSCALE:
            source = _fit(_blob_image(job.input_sha256, "RGB"), width, height)
            result = _derived(pipelines, "image")(image=source, strength=p["strength"], **common).images[0]
        elif job.kind == JobKind.INPAINT:
            source = _fit(_blob_image(job.input_sha256, "RGB"), width, height)
            mask = _fit(_blob_image(job.mask_sha256, "L"), width, height).point(lambda v: 255 if v >= 128 else 0)
            painted = _derived(pipelines, "inpaint")(
                image=source, mask_image=mask, strength=p["strength"], width=width, height=height, **common
            ).images[0]
            result = Image.composite(_fit(painted.convert("RGB"), width, height), source, mask)
        else:
            raise ValueError(f"unknown job kind {job.kind!r}")
    return result.convert("RGB")
